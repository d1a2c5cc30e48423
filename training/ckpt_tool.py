"""Checkpoint tools: python3 training/ckpt_tool.py split|join|average ...

  split CKPT OUTDIR [--max-mb 15] [--half]
                                    the weights of CKPT in parts of at most --max-mb each
                                    (OUTDIR/part1.pt, part2.pt, ...), for bringing a checkpoint back
                                    from a machine that returns files of at most 16 MiB; --half stores
                                    them as float16 (half the parts; join gives float32 back)
  join PART... --out CKPT           the parts back into one checkpoint
  average CKPT... --out CKPT [--weights W...]
                                    the (weighted) mean of the evaluation weights of checkpoints of one
                                    architecture: a "model soup" of runs that share a starting point

Every output is a slim checkpoint (step, options, net_ema), which test.py, export_onnx.py and
train.py --init read. The first checkpoint's step and options are kept.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from training.models.grow import eval_weights  # noqa: E402


def _meta(ckpt):
    return {k: v for k, v in ckpt.items() if k not in ("net", "net_ema", "optimizer")}


def split(ckpt_path, out_dir, max_mb=15.0, half=False):
    """split writes the evaluation weights of ckpt_path as part1.pt, part2.pt, ... in out_dir, each
    holding whole tensors up to max_mb (a tensor larger than that gets a part of its own); the first
    part also holds the step and options. With half, floating-point tensors are stored as float16
    (the precision models/best.onnx ships in). Returns the part paths."""
    ckpt = torch.load(ckpt_path, map_location="cpu")
    limit = max_mb * 1e6
    parts, size = [{}], 0
    for name, t in eval_weights(ckpt).items():
        if half and t.is_floating_point():
            t = t.half()
        n = t.numel() * t.element_size()
        if parts[-1] and size + n > limit:
            parts.append({})
            size = 0
        parts[-1][name] = t
        size += n
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, p in enumerate(parts):
        state = dict(_meta(ckpt), net_ema=p) if i == 0 else {"net_ema": p}
        state["part"] = (i + 1, len(parts))
        paths.append(out / f"part{i + 1}.pt")
        torch.save(state, paths[-1])
    return paths


def join(part_paths, out_path):
    """join reads the parts written by split (in any order) and writes one slim checkpoint."""
    parts = sorted((torch.load(p, map_location="cpu") for p in part_paths), key=lambda s: s["part"][0])
    want = parts[0]["part"][1]
    if [s["part"][0] for s in parts] != list(range(1, want + 1)):
        raise ValueError(f"have parts {[s['part'][0] for s in parts]} of {want}")
    weights = {}
    for s in parts:
        weights.update({k: t.float() if t.dtype == torch.float16 else t for k, t in s["net_ema"].items()})
    state = dict(parts[0], net_ema=weights)
    del state["part"]
    torch.save(state, out_path)


def average(ckpt_paths, out_path, weights=None):
    """average writes the weighted mean (default: equal weights) of the checkpoints' evaluation
    weights, in float32; they must have the same tensors and shapes."""
    ckpts = [torch.load(p, map_location="cpu") for p in ckpt_paths]
    w = [1.0] * len(ckpts) if weights is None else [float(x) for x in weights]
    if len(w) != len(ckpts) or sum(w) <= 0:
        raise ValueError("need one positive-sum weight per checkpoint")
    sds = [eval_weights(c) for c in ckpts]
    for p, sd in zip(ckpt_paths[1:], sds[1:]):
        if sd.keys() != sds[0].keys() or any(sd[k].shape != sds[0][k].shape for k in sd):
            raise ValueError(f"{p} does not have the tensors of {ckpt_paths[0]}")
    mean = {k: sum(wi * sd[k].float() for wi, sd in zip(w, sds)) / sum(w) for k in sds[0]}
    state = dict(_meta(ckpts[0]), net_ema=mean,
                 averaged=[f"{wi:g} x {p}" for wi, p in zip(w, map(str, ckpt_paths))])
    torch.save(state, out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("ckpt")
    s.add_argument("out_dir")
    s.add_argument("--max-mb", type=float, default=15.0)
    s.add_argument("--half", action="store_true", help="store the weights as float16")
    j = sub.add_parser("join")
    j.add_argument("parts", nargs="+")
    j.add_argument("--out", required=True)
    a = sub.add_parser("average")
    a.add_argument("ckpts", nargs="+")
    a.add_argument("--out", required=True)
    a.add_argument("--weights", type=float, nargs="+", default=None)
    args = ap.parse_args()
    if args.cmd == "split":
        for p in split(args.ckpt, args.out_dir, args.max_mb, args.half):
            print(p)
    elif args.cmd == "join":
        join(args.parts, args.out)
    else:
        average(args.ckpts, args.out, args.weights)


if __name__ == "__main__":
    main()
