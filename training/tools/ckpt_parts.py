"""Checkpoints in parts: python3 training/tools/ckpt_parts.py split|join ...

  split CKPT OUTDIR [--max-mb 15] [--half]
                                    the weights of CKPT in parts of at most --max-mb each
                                    (OUTDIR/part1.pt, part2.pt, ...), for bringing a checkpoint back
                                    from a machine that returns files of at most 16 MiB; --half stores
                                    them as float16 (half the parts; join gives float32 back)
  join PART... --out CKPT           the parts back into one checkpoint

join writes a slim checkpoint (step, options, net_ema), which test.py, export_onnx.py, average.py and
train.py --init read.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from training.models.grow import checkpoint_meta, eval_weights  # noqa: E402


def split(ckpt_path, out_dir, max_mb=15.0, half=False):
    """split writes the evaluation weights of ckpt_path as part1.pt, part2.pt, ... in out_dir, each
    holding whole tensors up to max_mb (a tensor larger than that gets a part of its own); the first
    part also holds the step and options. With half, floating-point tensors are stored as float16
    (the precision models/best-float.onnx ships in). Returns the part paths."""
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
        state = dict(checkpoint_meta(ckpt), net_ema=p) if i == 0 else {"net_ema": p}
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
    args = ap.parse_args()
    if args.cmd == "split":
        for p in split(args.ckpt, args.out_dir, args.max_mb, args.half):
            print(p)
    else:
        join(args.parts, args.out)


if __name__ == "__main__":
    main()
