#!/usr/bin/python3
"""Generate the test images and golden metric values for package quality.

Run from anywhere with the system interpreter (needs numpy, cv2, PIL):

    /usr/bin/python3 quality/testdata/gen_golden.py

It writes, next to this script:

  * rgb_ref.png            64x48 RGB synthetic "photo" (gradients, shapes, texture)
  * rgb_q10.png, rgb_q50.png
                           rgb_ref JPEG-compressed by Pillow at quality 10 / 50,
                           decoded and stored losslessly
  * gray_ref.png           61x45 grey synthetic image (deliberately not a
                           multiple of 8, to exercise the fractional block
                           counts of FBCNN's BEF and the block-column limit of
                           the NR score)
  * gray_q10.png, gray_q50.png
                           grey JPEG versions of gray_ref
  * natural_gray.png       128x128 grey natural-looking image, the source of
                           the Go ranking test (which compresses it with Go's
                           image/jpeg)
  * golden.json            reference metric values

The metric functions below are independent re-implementations, in numpy/cv2,
of the reference code the Go package claims to match:

  * PSNR, SSIM, PSNR-B: jiaxi-jiang/FBCNN, utils/utils_image.py
    (calculate_psnr, calculate_ssim/ssim, calculate_psnrb/compute_bef/rgb2ycbcr),
    called the way main_test_fbcnn_color.py / main_test_fbcnn_gray.py call
    them (PSNR-B as calculate_psnrb(ground_truth, restored)).
  * per-channel PSNR-B: JingyunLiang/SwinIR, utils/util_calculate_psnr_ssim.py
    (calculate_psnrb/_blocking_effect_factor, which follow QGAC's psnrb.py),
    called as calculate_psnrb(restored, ground_truth), i.e. with the BEF taken
    on the restored image; the torch code is redone here in float64 numpy.
  * NR score: Z. Wang's jpeg_quality_score.m (ICIP 2002), with the original
    constants alpha=-245.8909, beta=261.9373, gamma1=-239.8886,
    gamma2=160.1664, gamma3=64.2859, on BT.601 float luma for RGB input.
  * blockiness: this package's own definition (see blockiness below).

All values are float64. Infinite values are written as the string "inf".
"""

import io
import json
import math
import os

import cv2
import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# Test images
# ---------------------------------------------------------------------------


def _smooth_noise(rng, h, w, cell):
    """Value noise: a coarse random grid, bilinearly upsampled (pure numpy)."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.uniform(-1.0, 1.0, size=(gh, gw))
    ys = np.arange(h) / cell
    xs = np.arange(w) / cell
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    # smoothstep weights give a less grid-like look
    fy = fy * fy * (3 - 2 * fy)
    fx = fx * fx * (3 - 2 * fx)
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _fractal(rng, h, w):
    out = np.zeros((h, w))
    amp = 1.0
    for cell in (32, 16, 8, 4, 2):
        out += amp * _smooth_noise(rng, h, w, cell)
        amp *= 0.55
    return out


def synth_rgb(h, w, seed):
    """Deterministic photo-like RGB image: sky/ground gradients, a few hard
    edged objects and fractal texture."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / w, yy / h
    r = 70 + 120 * v + 30 * np.sin(2.1 * math.pi * u)
    g = 110 + 60 * u - 40 * v + 20 * np.cos(3.3 * math.pi * v)
    b = 190 - 110 * v + 25 * np.sin(1.7 * math.pi * (u + v))
    img = np.stack([r, g, b], axis=-1)
    # a horizon
    horizon = 0.45 * h + 0.08 * h * np.sin(2 * math.pi * u * 1.3)
    ground = yy > horizon
    img[ground] = img[ground] * np.array([0.75, 0.95, 0.55]) + np.array([30, 10, 0])
    # objects with hard edges (give JPEG ringing/blocking something to do)
    for cy, cx, rad, col in ((0.30, 0.25, 0.13, (235, 210, 60)),
                             (0.70, 0.70, 0.18, (90, 40, 30)),
                             (0.60, 0.20, 0.09, (30, 60, 140))):
        m = (yy - cy * h) ** 2 + (xx - cx * w) ** 2 < (rad * max(h, w)) ** 2
        img[m] = 0.25 * img[m] + 0.75 * np.array(col, dtype=np.float64)
    # a diagonal bar
    bar = np.abs((xx - 0.55 * w) - 0.6 * (yy - 0.5 * h)) < 1.6
    img[bar] = np.array([250, 250, 245])
    tex = _fractal(rng, h, w)
    img += 18 * tex[..., None] + rng.normal(0, 2.0, size=(h, w, 1))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def synth_gray(h, w, seed):
    rgb = synth_rgb(h, w, seed).astype(np.float64)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    return np.clip(np.round(y), 0, 255).astype(np.uint8)


def jpeg_roundtrip(arr, quality):
    """Compress with Pillow (libjpeg) at the given quality and decode."""
    mode = "L" if arr.ndim == 2 else "RGB"
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.array(Image.open(buf).convert(mode))


def save_png(arr, name):
    path = os.path.join(HERE, name)
    mode = "L" if arr.ndim == 2 else "RGB"
    Image.fromarray(arr, mode).save(path, format="PNG", optimize=True)
    # read back: the golden values are computed from exactly what Go reads
    back = np.array(Image.open(path))
    assert back.shape == arr.shape and (back == arr).all(), name
    return back


# ---------------------------------------------------------------------------
# Reference metrics (FBCNN utils/utils_image.py semantics)
# ---------------------------------------------------------------------------


def fbcnn_psnr(img1, img2):
    a = img1.astype(np.float64)
    b = img2.astype(np.float64)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return 20 * math.log10(255.0 / math.sqrt(mse))


def _ssim_channel(img1, img2):
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    x = img1.astype(np.float64)
    y = img2.astype(np.float64)
    k = cv2.getGaussianKernel(11, 1.5)
    win = np.outer(k, k.transpose())

    def f(a):
        return cv2.filter2D(a, -1, win)[5:-5, 5:-5]  # "valid" part only

    mx, my = f(x), f(y)
    mx2, my2, mxy = mx ** 2, my ** 2, mx * my
    sx2 = f(x ** 2) - mx2
    sy2 = f(y ** 2) - my2
    sxy = f(x * y) - mxy
    m = ((2 * mxy + c1) * (2 * sxy + c2)) / ((mx2 + my2 + c1) * (sx2 + sy2 + c2))
    return m.mean()


def fbcnn_ssim(img1, img2):
    if img1.ndim == 2:
        return _ssim_channel(img1, img2)
    return np.array([_ssim_channel(img1[..., i], img2[..., i])
                     for i in range(img1.shape[2])]).mean()


def fbcnn_rgb2y_uint8(img):
    """FBCNN rgb2ycbcr(uint8, only_y=True): BT.601 studio-swing Y, rounded."""
    y = np.dot(img, [65.481, 128.553, 24.966]) / 255.0 + 16.0
    return y.round().astype(np.uint8)


def exact_y_uint8(img):
    """The same luma in exact integer arithmetic, rounded half to even (what
    the Go package computes). np.dot's float result can fall one ulp either
    side of an exact .5 tie depending on the BLAS in use."""
    num = (65481 * img[..., 0].astype(np.int64) + 128553 * img[..., 1].astype(np.int64)
           + 24966 * img[..., 2].astype(np.int64) + 16 * 255000)
    q, rem = num // 255000, num % 255000
    q += (2 * rem > 255000) | ((2 * rem == 255000) & (q % 2 == 1))
    return q.astype(np.uint8)


def fbcnn_bef(img):
    """FBCNN compute_bef on a 2-D float image in [0, 255]."""
    block = 8
    height, width = img.shape[:2]
    hb = list(range(block - 1, width - 1, block))
    hbc = sorted(set(range(width - 1)) - set(hb))
    vb = list(range(block - 1, height - 1, block))
    vbc = sorted(set(range(height - 1)) - set(vb))
    d_b = 0.0
    d_bc = 0.0
    for i in hb:
        d_b += np.sum((img[:, i] - img[:, i + 1]) ** 2)
    for i in hbc:
        d_bc += np.sum((img[:, i] - img[:, i + 1]) ** 2)
    for j in vb:
        d_b += np.sum((img[j, :] - img[j + 1, :]) ** 2)
    for j in vbc:
        d_bc += np.sum((img[j, :] - img[j + 1, :]) ** 2)
    # true division, as in FBCNN: the "counts" are fractional when a side is
    # not a multiple of 8
    n_hb = height * (width / block - 1)
    n_hbc = height * (width - 1) - n_hb
    n_vb = width * (height / block - 1)
    n_vbc = width * (height - 1) - n_vb
    d_b = d_b / (n_hb + n_vb)
    d_bc = d_bc / (n_hbc + n_vbc)
    eta = math.log2(block) / math.log2(min(height, width)) if d_b > d_bc else 0
    return eta * (d_b - d_bc)


def fbcnn_psnrb(gt, restored):
    """calculate_psnrb(img1=gt, img2=restored) of FBCNN."""
    a = gt.astype(np.float64)
    if restored.ndim == 3 and restored.shape[-1] == 3:
        bef = fbcnn_bef(fbcnn_rgb2y_uint8(restored).astype(np.float64))
        b = restored.astype(np.float64)
    else:
        b = restored.astype(np.float64)
        bef = fbcnn_bef(b)
    mse = np.mean((a - b) ** 2)
    mse_b = mse + bef
    if mse_b == 0:
        return float("inf")
    return 20 * math.log10(255.0 / math.sqrt(mse_b))


def _qgac_bef(im):
    """_blocking_effect_factor of SwinIR/QGAC for one channel, im in [0,1]."""
    block = 8
    h, w = im.shape
    hpos = np.arange(7, w - 1, 8)
    vpos = np.arange(7, h - 1, 8)
    hn = np.setdiff1d(np.arange(0, w - 1), hpos)
    vn = np.setdiff1d(np.arange(0, h - 1), vpos)
    hb = ((im[:, hpos] - im[:, hpos + 1]) ** 2).sum()
    vb = ((im[vpos, :] - im[vpos + 1, :]) ** 2).sum()
    hnb = ((im[:, hn] - im[:, hn + 1]) ** 2).sum()
    vnb = ((im[vn, :] - im[vn + 1, :]) ** 2).sum()
    nbh = h * (w // block - 1)  # floor division here, unlike FBCNN
    nbv = w * (h // block - 1)
    bd = (hb + vb) / (nbh + nbv)
    nnh = h * (w - 1) - nbh
    nnv = w * (h - 1) - nbv
    nbd = (hnb + vnb) / (nnh + nnv)
    scaler = np.log2(block) / np.log2(min(h, w))
    bef = scaler * (bd - nbd)
    if bd <= nbd:
        bef = 0.0
    return bef


def perchannel_psnrb(gt, restored):
    """SwinIR calculate_psnrb(img1=restored, img2=gt): per channel, values
    divided by 255 once, BEF of the restored channel."""
    if gt.ndim == 2:
        gt, restored = gt[..., None], restored[..., None]
    x = restored.astype(np.float64) / 255.0
    y = gt.astype(np.float64) / 255.0
    total = 0.0
    for c in range(x.shape[2]):
        mse = np.mean((x[..., c] - y[..., c]) ** 2)
        bef = _qgac_bef(x[..., c])
        total += 10 * math.log10(1 / (mse + bef))
    return total / x.shape[2]


# ---------------------------------------------------------------------------
# No-reference score (Wang, Sheikh & Bovik 2002; MATLAB jpeg_quality_score.m)
# ---------------------------------------------------------------------------


def luma(img):
    if img.ndim == 2:
        return img.astype(np.float64)
    f = img.astype(np.float64)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def nr_score(img):
    x = luma(img)
    m, n = x.shape
    d_h = x[:, 1:] - x[:, :-1]
    # MATLAB d_h(:, 8:8:8*(floor(N/8)-1)), 1-based -> 0-based 7, 15, ...
    b_h = np.mean(np.abs(d_h[:, 7:8 * (n // 8 - 1):8]))
    a_h = (8 * np.mean(np.abs(d_h)) - b_h) / 7
    s = np.sign(d_h)
    z_h = np.mean((s[:, :-1] * s[:, 1:]) < 0)
    d_v = x[1:, :] - x[:-1, :]
    b_v = np.mean(np.abs(d_v[7:8 * (m // 8 - 1):8, :]))
    a_v = (8 * np.mean(np.abs(d_v)) - b_v) / 7
    s = np.sign(d_v)
    z_v = np.mean((s[:-1, :] * s[1:, :]) < 0)
    B = (b_h + b_v) / 2
    A = (a_h + a_v) / 2
    Z = (z_h + z_v) / 2
    alpha, beta = -245.8909, 261.9373
    g1, g2, g3 = -239.8886, 160.1664, 64.2859
    S = alpha + beta * (B ** (g1 / 10000)) * (A ** (g2 / 10000)) * (Z ** (g3 / 10000))
    return {"S": S, "B": B, "A": A, "Z": Z}


def blockiness(img):
    """Mean |difference| across 8x8 block boundaries (positions 7, 15, ...,
    < side-1, both directions pooled) over mean |difference| at all other
    neighbour pairs, on luma. 1 means no excess at the block grid."""
    x = luma(img)
    h, w = x.shape
    dh = np.abs(x[:, 1:] - x[:, :-1])
    dv = np.abs(x[1:, :] - x[:-1, :])
    hb = np.arange(7, w - 1, 8)
    vb = np.arange(7, h - 1, 8)
    hn = np.setdiff1d(np.arange(w - 1), hb)
    vn = np.setdiff1d(np.arange(h - 1), vb)
    sb = dh[:, hb].sum() + dv[vb, :].sum()
    nb = h * len(hb) + w * len(vb)
    sn = dh[:, hn].sum() + dv[vn, :].sum()
    nn = h * len(hn) + w * len(vn)
    return (sb / nb) / (sn / nn)


# ---------------------------------------------------------------------------


def enc(v):
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def main():
    imgs = {}
    rgb = synth_rgb(48, 64, seed=20020922)
    imgs["rgb_ref.png"] = save_png(rgb, "rgb_ref.png")
    imgs["rgb_q10.png"] = save_png(jpeg_roundtrip(rgb, 10), "rgb_q10.png")
    imgs["rgb_q50.png"] = save_png(jpeg_roundtrip(rgb, 50), "rgb_q50.png")
    gray = synth_gray(45, 61, seed=7)
    imgs["gray_ref.png"] = save_png(gray, "gray_ref.png")
    imgs["gray_q10.png"] = save_png(jpeg_roundtrip(gray, 10), "gray_q10.png")
    imgs["gray_q50.png"] = save_png(jpeg_roundtrip(gray, 50), "gray_q50.png")
    nat = synth_gray(128, 128, seed=1234)
    imgs["natural_gray.png"] = save_png(nat, "natural_gray.png")

    for name, arr in imgs.items():
        if arr.ndim == 3:
            # the golden PSNR-B values must not depend on how this BLAS
            # rounds exact ties in FBCNN's luma
            assert (fbcnn_rgb2y_uint8(arr) == exact_y_uint8(arr)).all(), name

    pairs = []
    for ref, dist in (("rgb_ref.png", "rgb_q10.png"),
                      ("rgb_ref.png", "rgb_q50.png"),
                      ("rgb_ref.png", "rgb_ref.png"),
                      ("rgb_q10.png", "rgb_q50.png"),
                      ("gray_ref.png", "gray_q10.png"),
                      ("gray_ref.png", "gray_q50.png"),
                      ("gray_ref.png", "gray_ref.png")):
        a, b = imgs[ref], imgs[dist]
        pairs.append({
            "ref": ref,
            "dist": dist,
            "psnr": enc(fbcnn_psnr(b, a)),  # FBCNN calls calculate_psnr(img_E, img_H)
            "ssim": enc(fbcnn_ssim(b, a)),
            "psnrb": enc(fbcnn_psnrb(a, b)),
            "psnrb_per_channel": enc(perchannel_psnrb(a, b)),
        })

    single = []
    for name in sorted(imgs):
        sc = nr_score(imgs[name])
        single.append({
            "img": name,
            "S": enc(sc["S"]), "B": enc(sc["B"]), "A": enc(sc["A"]), "Z": enc(sc["Z"]),
            "blockiness": enc(blockiness(imgs[name])),
        })

    out = {
        "generator": "gen_golden.py",
        "versions": {"numpy": np.__version__, "cv2": cv2.__version__,
                     "PIL": PIL.__version__},
        "pairs": pairs,
        "single": single,
    }
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
