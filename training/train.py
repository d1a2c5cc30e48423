"""Train a restoration network: python3 training/train.py -opt training/options/fast.yml [--minutes N]
[--resume PATH | --init PATH] [--lr LR] [--device cpu|cuda] [--threads N] [--packed NPZ ...] [--out DIR] [--slim] [--qat].

Writes .train/<name>/latest.pt (model, EMA, optimizer, step, options) at the end of the time budget
and every `logger.save_every_min` minutes, and logs to .train/<name>/train.log: step, loss, it/s, lr,
the share of wall time spent waiting for training batches, and every `logger.val_every_min` minutes
a quick Kodak PSNR at a few QFs (the training curve). --slim writes EMA weights only (see
JPEGModel.save): a 4 M-parameter model's full checkpoint is 66 MB, its slim one 17 MB.
"""
import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from training.data.jpeg_dataset import JPEGDataset  # noqa: E402
from training.models.jpeg_model import JPEGModel  # noqa: E402
from training.utils.evaluate import evaluate, load_eval_images  # noqa: E402
from training.utils.options import load_options, repo_path  # noqa: E402


REPO = pathlib.Path(__file__).resolve().parents[1]


def data_root(opt):
    """data_root is $JPEGRESTORE_DATA or the options' data_root, relative paths taken from the repo root."""
    p = pathlib.Path(os.environ.get("JPEGRESTORE_DATA") or opt["datasets"].get("data_root", "."))
    return p if p.is_absolute() else REPO / p


def train_dataset_options(opt):
    """train_dataset_options returns the train dataset options with folders made absolute."""
    d = dict(opt["datasets"]["train"])
    root = data_root(opt)
    d["folders"] = [str(root / f) for f in d.get("folders", [])]
    if d.get("packed"):
        packs = d["packed"] if isinstance(d["packed"], (list, tuple)) else [d["packed"]]
        d["packed"] = [str(repo_path(p)) for p in packs]
    d.setdefault("seed", opt.get("seed", 0))
    return d


class Logger:
    """Logger appends lines to a file and echoes them to stdout."""

    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, msg):
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")


def run(opt, minutes=None, resume=None, device="cpu", threads=None, out_dir=None, max_steps=None, slim=False,
        init=None, qat=False):
    """run trains per `opt` until `minutes` of wall time (or max_steps) pass; returns the JPEGModel."""
    if threads:
        torch.set_num_threads(threads)
    if device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop size: pick the fastest kernels once
    torch.manual_seed(int(opt.get("seed", 0)))
    out = pathlib.Path(out_dir) if out_dir else repo_path(".train") / opt["name"]
    out.mkdir(parents=True, exist_ok=True)
    log = Logger(out / "train.log")
    dopt = train_dataset_options(opt)
    ds = JPEGDataset(dopt)
    bs = int(dopt.get("batch_size", 16))
    model = JPEGModel(opt, device=device)
    elapsed_before = 0.0
    if resume:
        ckpt = model.load(resume)
        elapsed_before = float(ckpt.get("train_seconds", 0.0))
        log(f"resumed from {resume} at step {model.step}")
    elif init:
        grown = model.init_from(init)
        log(f"initialised from the weights of {init} ({grown} tensors widened); fresh optimizer and schedule")
    if qat:
        if not opt.get("int8"):
            raise SystemExit("--qat needs the options' int8 section (the int8 export's calibration)")
        model.enable_qat(opt["int8"])
        log(f"quantization-aware: the int8 export's rounding ({opt['int8']}), float32, ranges of the start weights")
    ds.reseed(int(dopt["seed"]) * 1000003 + model.step)
    nparams = sum(p.numel() for p in model.net.parameters())
    log(f"start {opt['name']}: {nparams} params, {len(ds.images)} images, crop {ds.crop}, batch {bs}, "
        f"device {device}, threads {torch.get_num_threads()}, bf16 {model.bf16 and model.qat is None}, lr {model.lr:g}, minutes {minutes}")

    vopt = opt["datasets"].get("val") or {}
    val_dir = data_root(opt) / vopt["folder"] if vopt.get("folder") else None
    val_images = []
    if val_dir is not None and val_dir.is_dir():
        val_images = load_eval_images(val_dir, vopt.get("names"))
    elif val_dir is not None:
        log(f"no validation images at {val_dir}: training without validation (evaluate with test.py)")
    val_qfs = vopt.get("qfs", [10, 30, 50])

    workers = int(dopt.get("num_workers", 0))
    if workers > 0:
        def init_fn(wid):
            info = torch.utils.data.get_worker_info()
            info.dataset.reseed(int(dopt["seed"]) * 1000003 + model.step + 7919 * (wid + 1))
        loader = torch.utils.data.DataLoader(ds, batch_size=bs, num_workers=workers, worker_init_fn=init_fn,
                                             persistent_workers=True, pin_memory=device == "cuda")

        def endless():
            while True:  # a new epoch every len(ds) / bs batches (the workers persist)
                yield from loader
        batches = endless()
        next_batch = lambda: next(batches)  # noqa: E731
    else:
        next_batch = lambda: ds.batch(bs)  # noqa: E731

    lopt = opt.get("logger", {})
    print_every = int(lopt.get("print_every", 50))
    save_every = float(lopt.get("save_every_min", 10)) * 60
    val_every = float(lopt.get("val_every_min", 10)) * 60
    budget = minutes * 60 if minutes else None
    t0 = time.time()
    last_save = last_val = t0
    win_t, win_loss, win_n, win_wait = time.time(), 0.0, 0, 0.0

    def save():
        model.save(out / "latest.pt", {"train_seconds": elapsed_before + time.time() - t0}, slim=slim)

    def validate():
        if not val_images:
            return
        table = evaluate(model.eval_net(), val_images, qfs=val_qfs, device=device)
        parts = " ".join(f"qf{q}={table[int(q)]['restored']:.3f}({table[int(q)]['gain']:+.3f})" for q in val_qfs)
        log(f"val step {model.step} {parts} avg_gain={table['average']['gain']:+.3f}")
        with open(out / "val.jsonl", "a") as f:
            f.write(json.dumps({"step": model.step, "train_seconds": elapsed_before + time.time() - t0,
                                "psnr": {str(k): v for k, v in table.items()}}) + "\n")

    while True:
        now = time.time()
        if budget is not None and now - t0 >= budget:
            break
        if max_steps is not None and model.step >= max_steps:
            break
        progress = None
        if budget is not None:
            progress = (elapsed_before + now - t0) / (elapsed_before + budget)
        tb = time.time()
        batch = next_batch()
        win_wait += time.time() - tb
        # The loss stays on the device until the log line: no per-step wait for the GPU.
        win_loss = win_loss + model.train_step(batch, progress)
        win_n += 1
        if model.step % print_every == 0:
            mean = float(win_loss) / win_n
            if not np.isfinite(mean):
                raise FloatingPointError(f"mean loss is {mean} at step {model.step}")
            dt = time.time() - win_t
            log(f"step {model.step} loss {mean:.5f} it/s {win_n / dt:.3f} data_wait {win_wait / dt:.0%} "
                f"lr {model.optimizer.param_groups[0]['lr']:.2e} elapsed_min {(time.time() - t0) / 60:.1f}")
            win_t, win_loss, win_n, win_wait = time.time(), 0.0, 0, 0.0
        if time.time() - last_save >= save_every:
            save()
            last_save = time.time()
        if time.time() - last_val >= val_every:
            validate()
            last_val = time.time()
    save()
    log(f"saved {out / 'latest.pt'} at step {model.step}")
    validate()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-opt", required=True, help="options YAML")
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget; ends with a checkpoint")
    ap.add_argument("--resume", default=None, help="checkpoint to resume from")
    ap.add_argument("--init", default=None,
                    help="start from the weights of this checkpoint (slim ones too) or .onnx model, at step 0; "
                    "the arch may be wider (grow.py)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--out", default=None, help="output folder (default .train/<name>)")
    ap.add_argument("--packed", action="append", default=None,
                    help="train from this pack_data.py archive instead of the folders (repeatable: the union)")
    ap.add_argument("--lr", type=float, default=None,
                    help="peak learning rate instead of the options' train.lr (e.g. lower for a fine-tune with --init)")
    ap.add_argument("--crop", type=int, default=None,
                    help="training crop side instead of the options' (a multiple of 16; larger crops let the deep "
                    "levels see real context)")
    ap.add_argument("--batch", type=int, default=None, help="batch size instead of the options'")
    ap.add_argument("--qat", action="store_true",
                    help="quantization-aware: train through the rounding of the int8 export (options' int8 section; "
                    "models/qat.py), e.g. a fine-tune with --init of the float model")
    ap.add_argument("--slim", action="store_true", help="checkpoints hold the EMA weights only (cannot resume)")
    a = ap.parse_args()
    if a.resume and a.init:
        ap.error("--resume and --init exclude each other")
    opt = load_options(a.opt)
    if a.packed:
        opt["datasets"]["train"]["packed"] = a.packed
    if a.lr is not None:
        opt.setdefault("train", {})["lr"] = a.lr
    if a.crop is not None:
        opt["datasets"]["train"]["crop"] = a.crop
    if a.batch is not None:
        opt["datasets"]["train"]["batch_size"] = a.batch
    run(opt, minutes=a.minutes, resume=a.resume, device=a.device, threads=a.threads, out_dir=a.out,
        max_steps=a.max_steps, slim=a.slim, init=a.init, qat=a.qat)


if __name__ == "__main__":
    main()
