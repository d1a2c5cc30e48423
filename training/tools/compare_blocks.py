"""Compare residual blocks at equal ORT time and equal training minutes (issue 18, part 2):
python3 training/tools/compare_blocks.py export|train|eval [--out .train/blocks] [--minutes 32].

The candidates are QUNets of the `fast` recipe that differ only in `network_g` (CANDIDATES below):
today's block ("res"), the same block trained with RepVGG branches ("rep": the same network once
fused, so the same ORT time), and NAFNet's block ("naf") at the widths whose ONNX Runtime time per
megapixel matches "res" (chosen with `export` and BenchmarkRawSession; models/fast.md, Block comparison).

- export: each candidate, randomly initialised, as <out>/<name>.onnx with its manifest, for
  `JPEGRESTORE_BENCH_MODEL=<out>/<name>.json go test -run '^$' -bench RawSession ./gpuworker`.
- train: all candidates at once, one torch thread each (the same share of the machine), for --minutes,
  on fast's folders without train/photos2, which the comparison keeps for its second held-out set.
- eval: every candidate's EMA weights on Kodak24 (all 24 images) and on 512x512 centre crops of 18
  photos2 images, at QF 10/30/50/70 (PyTorch, the protocol of training/test.py); writes <out>/eval.json.
"""
import argparse
import copy
import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from training.utils.options import load_options, repo_path  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
SHAPE = {"channels": [24, 48, 64, 96], "enc_blocks": [1, 1, 2], "mid_blocks": 3, "dec_blocks": [1, 1, 2],
         "emb_ch": 64}
CANDIDATES = {
    "res": dict(SHAPE, type="QUNet"),
    "rep": dict(SHAPE, type="QUNet", block="rep"),
    "naf": {"type": "QUNet", "block": "naf", "channels": [16, 32, 64, 128], "enc_blocks": [1, 1, 2],
            "mid_blocks": 4, "dec_blocks": [1, 1, 1], "emb_ch": 64},
}
TRAIN_FOLDERS = ["train/bsds500", "train/urban100", "train/photos"]
HELD_OUT = "train/photos2"
QFS = [10, 30, 50, 70]


def options(name):
    """options is the fast recipe with the candidate's network and the comparison's folders."""
    opt = load_options(REPO / "training" / "options" / "fast.yml")
    opt["name"] = f"blocks-{name}"
    opt["network_g"] = copy.deepcopy(CANDIDATES[name])
    opt["datasets"]["train"]["folders"] = list(TRAIN_FOLDERS)
    return opt


def held_out_crops(out):
    """held_out_crops writes 512x512 centre crops of photos2's 13 non-reef photos and 5 reef ones."""
    from PIL import Image
    from training.train import data_root
    src = data_root(options("res")) / HELD_OUT
    dst = out / "photos2-crops"
    dst.mkdir(parents=True, exist_ok=True)
    paths = [p for p in sorted(src.glob("*.jpg")) if not p.name.startswith("krank")]
    paths += [src / f"krank__level-{i:02d}.jpg" for i in (3, 9, 15, 21, 27)]
    for p in paths:
        im = Image.open(p).convert("RGB")
        w, h = im.size
        s = min(512, min(w, h) // 16 * 16)
        left, top = (w - s) // 2, (h - s) // 2
        im.crop((left, top, left + s, top + s)).save(dst / f"{p.stem}.png")
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=["export", "train", "eval"])
    ap.add_argument("--out", default=".train/blocks")
    ap.add_argument("--minutes", type=float, default=32)
    ap.add_argument("--only", default=None, help="comma-separated candidate names (default: all)")
    a = ap.parse_args()
    out = repo_path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    names = a.only.split(",") if a.only else list(CANDIDATES)
    if a.cmd == "export":
        from training.archs import build_arch
        from training.export_onnx import write_all
        for n in names:
            torch.manual_seed(0)
            net = build_arch(CANDIDATES[n])
            # Parameters that start at zero would let ONNX Runtime fold work away: randomise them.
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(torch.randn_like(p) * 0.01)
            m = write_all(net, options(n), out / f"{n}.onnx")
            print(f"{n}: {m['params']} parameters, receptive field {m['receptive_field']}: {out / n}.json")
    elif a.cmd == "train":
        import yaml
        procs = []
        for n in names:
            path = out / f"{n}.yml"
            path.write_text(yaml.safe_dump(options(n), sort_keys=False))
            cmd = [sys.executable, str(REPO / "training" / "train.py"), "-opt", str(path), "--minutes",
                   str(a.minutes), "--threads", "1", "--out", str(out / n)]
            procs.append(subprocess.Popen(cmd, stdout=open(out / f"{n}.out", "w"), stderr=subprocess.STDOUT))
        for n, p in zip(names, procs):
            if p.wait() != 0:
                sys.exit(f"{n}: train.py failed, see {out / n}.out")
    else:
        from training.models.jpeg_model import load_eval_net
        from training.utils.evaluate import evaluate, load_eval_images
        from training.train import data_root
        torch.set_num_threads(2)
        sets = {"kodak24": data_root(options("res")) / "val" / "kodak24", "photos2-crops": held_out_crops(out)}
        result = {}
        for n in names:
            net, _ = load_eval_net(out / n / "latest.pt", options(n))
            result[n] = {"step": int(torch.load(out / n / "latest.pt", map_location="cpu")["step"])}
            for s, folder in sets.items():
                table = evaluate(net, load_eval_images(folder), qfs=QFS)
                result[n][s] = {str(k): v for k, v in table.items()}
                gains = " ".join(f"qf{q} {table[q]['gain']:+.3f}" for q in QFS)
                print(f"{n:4s} {s:14s} step {result[n]['step']:6d} {gains} avg {table['average']['gain']:+.3f}",
                      flush=True)
        (out / "eval.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
