"""Average checkpoints: python3 training/average.py CKPT... --out CKPT [--weights W...]

The (weighted) mean of the evaluation weights of checkpoints of one architecture: a "model soup" of
runs that share a starting point (models/best.md: the shipped best is such a mean). The output is a
slim checkpoint (step, options, net_ema), which test.py, export_onnx.py and train.py --init read; the
first checkpoint's step and options are kept.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from training.models.grow import checkpoint_meta, eval_weights  # noqa: E402


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
    state = dict(checkpoint_meta(ckpts[0]), net_ema=mean,
                 averaged=[f"{wi:g} x {p}" for wi, p in zip(w, map(str, ckpt_paths))])
    torch.save(state, out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpts", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights", type=float, nargs="+", default=None)
    args = ap.parse_args()
    average(args.ckpts, args.out, args.weights)


if __name__ == "__main__":
    main()
