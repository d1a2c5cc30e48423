"""Probe: does projecting a restored image back onto its JPEG's quantization bins help?

python3 training/tools/consistency_probe.py -opt training/options/best.yml --ckpt CKPT [--cases 10,50,10>50,10>50@4]

A JPEG file fixes every quantized DCT coefficient c of the image its encoder saw: the true coefficient
lay in [(c - 1/2) q, (c + 1/2) q]. Clamping the restored image's coefficients into those bins (luma on
the 8x8 grid; chroma after the encoder's 2x2 averaging, the change spread back over the 2x2 pixels)
is the projection onto that set, and it can only move the restored coefficients towards the truth
when the truth is the image the last encoder saw. That holds for a single compression (the
challenge protocol) and fails for a re-saved JPEG, whose pristine original lies outside the last
file's bins. This script measures both on Kodak24, projecting the restored 8-bit image as a product
would after the network.

Cases: "Q" is one pass at quality Q (4:2:0); "A>B" compresses at A, decodes and compresses at B on the
same grid; "A>B@S" does the first pass on a grid shifted by S pixels down and right. The bins come
from the image the last encoder saw (the encoder's own colour conversion, averaging and DCT in float,
which libjpeg's integer arithmetic matches to within rounding).
"""
import argparse
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from training.data.degrade import ijg_tables, jpeg_roundtrip  # noqa: E402

_N = 8
# The orthonormal 8-point DCT-II; the JPEG FDCT of T.81 A.3.3 is this matrix applied on both sides.
DCT8 = np.array([[(math.sqrt(1 / _N) if u == 0 else math.sqrt(2 / _N)) * math.cos((2 * x + 1) * u * math.pi / (2 * _N))
                  for x in range(_N)] for u in range(_N)])


def _blocks(a):
    h, w = a.shape
    return a.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)


def _unblocks(b):
    return b.transpose(0, 2, 1, 3).reshape(b.shape[0] * 8, b.shape[1] * 8)


def _pad(a, m):
    """_pad replicates the last row and column up to a multiple of m, as libjpeg does."""
    return np.pad(a, ((0, (-a.shape[0]) % m), (0, (-a.shape[1]) % m)), mode="edge")


def rgb_to_ycc(x):
    """rgb_to_ycc is the JFIF conversion (T.871 section 7) in float, chroma centred on 128."""
    r, g, b = (x[..., i].astype(np.float64) for i in range(3))
    return (0.299 * r + 0.587 * g + 0.114 * b,
            -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128,
            0.5 * r - 0.418687589 * g - 0.081312411 * b + 128)


def ycc_to_rgb(y, cb, cr):
    cb, cr = cb - 128, cr - 128
    return np.stack([y + 1.402 * cr, y - 0.344136286 * cb - 0.714136286 * cr, y + 1.772 * cb], -1)


def _down2(a):
    a = _pad(a, 2)
    return a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))


def _coefs(plane):
    return DCT8 @ _blocks(_pad(plane - 128.0, 8)) @ DCT8.T


def quantized(src, luma_q, chroma_q):
    """quantized returns the quantized coefficients a 4:2:0 encoder writes for uint8 RGB `src`."""
    y, cb, cr = rgb_to_ycc(src)
    return (np.round(_coefs(y) / luma_q), np.round(_coefs(_down2(cb)) / chroma_q),
            np.round(_coefs(_down2(cr)) / chroma_q))


def _clamp_plane(plane, c, q, alpha=0.5):
    """_clamp_plane moves a float plane's coefficients into [(c - alpha) q, (c + alpha) q]; returns
    the change."""
    h, w = plane.shape
    f = _coefs(plane)
    g = np.clip(f, (c - alpha) * q, (c + alpha) * q)
    return _unblocks(DCT8.T @ (g - f) @ DCT8)[:h, :w]


def project(img, coefs, luma_q, chroma_q, alpha=0.5):
    """project clamps uint8 RGB `img` onto the bins of `coefs` (quantized()'s triple); returns uint8.
    With alpha < 0.5 the bins are narrowed to alpha steps on either side of the file's value.

    A change of luma moves R, G and B equally; a change of a chroma sample at half resolution is
    spread over its 2x2 pixels (the least-squares inverse of the averaging).
    """
    y, cb, cr = rgb_to_ycc(img)
    h, w = y.shape
    y = y + _clamp_plane(y, coefs[0], luma_q, alpha)
    out = []
    for plane, c in ((cb, coefs[1]), (cr, coefs[2])):
        d = _clamp_plane(_down2(plane), c, chroma_q, alpha)
        out.append(plane + np.repeat(np.repeat(d, 2, 0), 2, 1)[:h, :w])
    return np.round(np.clip(ycc_to_rgb(y, *out), 0, 255)).astype(np.uint8)


def outside(img, coefs, luma_q):
    """outside returns, for the luma of uint8 RGB `img`, the share of coefficients outside the bins
    of `coefs` and their mean distance beyond the bin's edge, in quantization steps (over all
    coefficients): what the product can see of how far a restored image strays from its file."""
    f = _coefs(rgb_to_ycc(img)[0]) / luma_q
    beyond = np.maximum(np.abs(f - coefs[0]) - 0.5, 0)
    return float(np.mean(beyond > 0)), float(np.mean(beyond))


# The first 20 AC positions in zigzag order, (row v, column u).
ZIGZAG_AC20 = ((0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0), (4, 0),
               (3, 1), (2, 2), (1, 3), (0, 4), (0, 5), (1, 4), (2, 3), (3, 2), (4, 1), (5, 0))


def double_quantized(luma, min_count=20):
    """double_quantized scores how much the histograms of a file's quantized luma coefficients
    (`luma` [by, bx, 8, 8], in steps) rise where a once-quantized image's fall: for |c| = n >= 1,
    h(n+1) above h(n) by more than twice its Poisson noise, summed over the first 20 AC positions
    and divided by their count of n >= 1 values. An image quantized with a coarser step first, on
    the same grid, leaves values its second step cannot reach empty (10 then 30: only multiples of
    about 3) and scores 0.25-0.9; once-quantized images score under 0.011. qcs.DoubleQuantized is
    this in Go."""
    up = total = 0.0
    for v, u in ZIGZAG_AC20:
        h = np.bincount(np.abs(luma[..., v, u]).astype(np.int64).ravel(), minlength=3)
        for n in range(1, len(h) - 1):
            if h[n + 1] >= min_count:
                up += max(0.0, h[n + 1] - h[n] - 2 * math.sqrt(h[n + 1]))
            total += h[n]
    return up / max(total, 1.0)


# qcs.DoubleQuantizedAbove and qcs.ShiftedGridAbove: `--qcs auto` leaves a file alone above either.
DOUBLE_QUANTIZED_ABOVE = 0.05
SHIFTED_GRID_ABOVE = 0.25

# The periods searched for an earlier grid's DC step, and how many blocks are sampled per shift.
SHIFT_PERIODS = np.arange(6.0, 121.0)
SHIFT_BLOCKS = 1024


def shifted_grid(img):
    """shifted_grid scores the sign of an earlier compression on another 8x8 grid in decoded uint8
    RGB `img` (a crop between two saves). On the grid of that compression the blocks' luma DC values
    (sum / 8) lie near multiples of its DC step q1, whatever came after; on other grids they do not.
    For each grid shifted by (dy, dx), both non-zero (a shift along one axis shares the final grid's
    rows or columns and shows its step), and each period q in SHIFT_PERIODS, the periodicity is
    |mean(exp(2 pi i DC / q))| over SHIFT_BLOCKS blocks spread over the image; the score is the
    largest excess of one shift over the median of all shifts at the same period. qcs.ShiftedGrid is
    this in Go."""
    y = rgb_to_ycc(img)[0]
    h, w = (y.shape[0] - 7) // 8, (y.shape[1] - 7) // 8  # blocks that fit at every shift
    if h < 1 or w < 1:
        return 0.0
    idx = np.linspace(0, h * w - 1, min(SHIFT_BLOCKS, h * w)).astype(np.int64)
    by, bx = idx // w, idx % w
    p = []
    for dy in range(1, 8):
        for dx in range(1, 8):
            dc = np.array([y[dy + 8 * j:dy + 8 * j + 8, dx + 8 * i:dx + 8 * i + 8].sum() for j, i in zip(by, bx)]) / 8
            p.append(np.abs(np.exp(2j * np.pi * dc[None, :] / SHIFT_PERIODS[:, None]).mean(axis=1)))
    p = np.asarray(p)
    return float(np.max(p.max(axis=0) - np.median(p, axis=0)))


def bins(qf):
    """bins returns libjpeg's (luma, chroma) quantization tables at quality qf as 8x8 float arrays."""
    return tuple(np.asarray(t, dtype=np.float64).reshape(8, 8) for t in ijg_tables(qf))


def compress_case(gt, case):
    """compress_case returns (decoded uint8 RGB, the image the last encoder saw, final QF)."""
    first, _, rest = case.rpartition(">")
    final, _, shift = rest.partition("@")
    src = gt
    if first:
        s = int(shift or 0)
        padded = np.pad(gt, ((s, 0), (s, 0), (0, 0)), mode="reflect")
        src = np.ascontiguousarray(jpeg_roundtrip(padded, int(first))[0][s:, s:])
    lq, _ = jpeg_roundtrip(src, int(final))
    return lq, src, int(final)


def main():
    import torch

    from training.models.jpeg_model import load_eval_net
    from training.test import DEFAULT_VAL
    from training.utils.evaluate import load_eval_images, psnr, restore
    from training.utils.options import load_options

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-opt", required=True)
    ap.add_argument("--ckpt", required=True, help="a checkpoint, or an exported .onnx of the options' network")
    ap.add_argument("--val", default=DEFAULT_VAL)
    ap.add_argument("--cases", default="10,30,50,70,90,10>30,10>50,20>70,10>50@4,30>30")
    ap.add_argument("--every", type=int, default=1, help="use every n-th image")
    ap.add_argument("--alpha", type=float, default=0.5, help="half-width of the kept bins, in steps")
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.ckpt.endswith(".onnx"):
        from training.archs import build_arch
        from training.models.grow import load_weights
        net = build_arch(load_options(a.opt)["network_g"])
        net.load_state_dict(load_weights(a.ckpt))
        net.eval()
    else:
        net, _ = load_eval_net(a.ckpt, load_options(a.opt))
    images = load_eval_images(a.val)[::a.every]
    print(f"{len(images)} images; gain over the JPEG in dB, mean over images; alpha {a.alpha}")
    print(f"{'case':>9} {'restored':>9} {'projected':>10} {'change':>7} {'worst':>7} {'auto':>7} {'kept':>5}  "
          "luma coefficients outside the bins: share (min..max), mean distance (min..max); "
          "double_quantized (min..max); shifted_grid (min..max)")
    for case in a.cases.split(","):
        rows = []
        for _, gt in images:
            lq, src, qf = compress_case(gt, case)
            luma, chroma = bins(qf)
            # Restore with the file's tables as degrade() gives them: luma then chroma, /255.
            qt = np.concatenate([luma.ravel(), chroma.ravel()]).astype(np.float32) / 255.0
            out = restore(net, lq, qt)
            coefs = quantized(src, luma, chroma)
            proj = project(out, coefs, luma, chroma, a.alpha)
            dq, sg = double_quantized(coefs[0]), shifted_grid(lq)
            auto = proj if dq <= DOUBLE_QUANTIZED_ABOVE and sg <= SHIFTED_GRID_ABOVE else out
            rows.append((psnr(lq, gt), psnr(out, gt), psnr(proj, gt)) + outside(out, coefs, luma)
                        + (dq, sg, psnr(auto, gt), float(auto is proj)))
        r = np.asarray(rows)
        print(f"{case:>9} {np.mean(r[:, 1] - r[:, 0]):+9.3f} {np.mean(r[:, 2] - r[:, 0]):+10.3f} "
              f"{np.mean(r[:, 2] - r[:, 1]):+7.3f} {np.min(r[:, 2] - r[:, 1]):+7.3f} "
              f"{np.mean(r[:, 7] - r[:, 1]):+7.3f} {np.mean(r[:, 8]):5.2f}  "
              f"{np.min(r[:, 3]):.4f}..{np.max(r[:, 3]):.4f}  {np.min(r[:, 4]):.5f}..{np.max(r[:, 4]):.5f}  "
              f"{np.min(r[:, 5]):.4f}..{np.max(r[:, 5]):.4f}  {np.min(r[:, 6]):.3f}..{np.max(r[:, 6]):.3f}", flush=True)


if __name__ == "__main__":
    main()
