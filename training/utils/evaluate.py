"""Evaluation: whole-image restoration and PSNR, as test.py and the training-time validation use them.

PSNR is on RGB uint8: 20*log10(255/sqrt(MSE)). The restored image is computed on the whole image
reflect-padded at the bottom/right to a multiple of 16 (so the 16x16 block grid stays where it was),
cropped back, clamped to [0,1], scaled by 255 and rounded half-to-even.
"""
import math

import numpy as np
import torch
from torch.nn import functional as F

from training.data.degrade import degrade
from training.data.jpeg_dataset import list_images, load_rgb

EVAL_QFS = (10, 20, 30, 40, 50, 60, 70)


def psnr(a, b):
    """psnr of two uint8 arrays of the same shape, in dB (inf when equal)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 20 * math.log10(255.0 / math.sqrt(mse))


@torch.no_grad()
def restore(net, lq, qtable, multiple=16, device="cpu"):
    """restore runs `net` on uint8 RGB `lq` [H,W,3] with qtable [128]; returns uint8 [H,W,3]."""
    h, w = lq.shape[:2]
    x = torch.from_numpy(np.array(lq)).permute(2, 0, 1)[None].float().div(255.0).to(device)
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    q = torch.as_tensor(np.asarray(qtable, dtype=np.float32))[None].to(device)
    y = net(x, q)[:, :, :h, :w].float().clamp(0, 1).mul(255.0)
    # torch.round rounds half to even.
    return torch.round(y)[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def load_eval_images(folder, names=None):
    """load_eval_images returns [(name, uint8 RGB)] for the images in folder (or only `names`)."""
    files = list_images([folder])
    if names:
        files = [f for f in files if f.stem in set(names)]
    return [(f.stem, load_rgb(f)) for f in files]


def evaluate(net, images, qfs=EVAL_QFS, device="cpu"):
    """evaluate returns {qf: {"jpeg": mean PSNR, "restored": mean PSNR, "gain": difference}} and "average"."""
    net.eval()
    table = {}
    for qf in qfs:
        pj, pr = [], []
        for _, gt in images:
            lq, qt = degrade(gt, qf=qf)
            pj.append(psnr(lq, gt))
            pr.append(psnr(restore(net, lq, qt, device=device), gt))
        table[int(qf)] = {"jpeg": float(np.mean(pj)), "restored": float(np.mean(pr)),
                          "gain": float(np.mean(pr) - np.mean(pj))}
    table["average"] = {k: float(np.mean([table[int(q)][k] for q in qfs])) for k in ("jpeg", "restored", "gain")}
    return table


def format_table(table):
    """format_table renders evaluate()'s result as a text table."""
    lines = [f"{'QF':>7} {'JPEG':>8} {'restored':>9} {'gain':>7}"]
    for k, v in table.items():
        lines.append(f"{str(k):>7} {v['jpeg']:8.3f} {v['restored']:9.3f} {v['gain']:+7.3f}")
    return "\n".join(lines)
