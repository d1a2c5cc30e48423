"""degrade: the one JPEG degradation used by training, evaluation and the Go parity fixtures.

Images are compressed with Pillow (libjpeg, IJG quality scaling of the ITU-T T.81 Annex K tables,
baseline, 8-bit tables) and decoded with Pillow (libjpeg ISLOW IDCT, fancy upsampling), the encoder and
decoder of the NTIRE 2024 / FBCNN protocol. The quantization tables of the final file are returned in
natural (row-major) order, the order Pillow >= 8.3 reports in `Image.quantization` (the bitstream
stores them in zigzag order, T.81 section B.2.4.1); `tests/test_degrade.py` pins this against the IJG
formula.
"""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Pillow's `subsampling` argument: 0 = 4:4:4, 2 = 4:2:0.
SUBSAMPLING_444 = 0
SUBSAMPLING_420 = 2


@dataclass(frozen=True)
class DegradeConfig:
    """DegradeConfig holds the random draw of training degradations.

    A fraction `high_prob` of quality factors is drawn uniformly from [high_qf_min, high_qf_max], the
    rest from [qf_min, qf_max]. A fraction `double_prob` of images is compressed twice, the first time
    on a grid shifted by (dy, dx) in [0, 16)^2, not both multiples of 8; a fraction `p444` of final
    passes uses 4:4:4 instead of 4:2:0. `qf_power` > 1 leans the [qf_min, qf_max] draw towards
    qf_min: qf = qf_min + floor((qf_max - qf_min + 1) * u**qf_power), u uniform in [0, 1); 1 is uniform.
    """

    qf_min: int = 10
    qf_max: int = 70
    high_qf_min: int = 71
    high_qf_max: int = 95
    high_prob: float = 0.15
    double_prob: float = 0.10
    p444: float = 0.10
    qf_power: float = 1.0

    @classmethod
    def from_dict(cls, d):
        return cls(**(d or {}))


def jpeg_roundtrip(img, qf, subsampling=SUBSAMPLING_420):
    """jpeg_roundtrip encodes uint8 RGB `img` [H,W,3] at quality `qf` with Pillow and decodes it.

    Returns the decoded uint8 RGB image and the file's quantization tables as a float32 [128] vector:
    the table of component 0 (luma) then of component 1 (chroma), natural order, entries clamped to
    255 and divided by 255.
    """
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(qf), subsampling=subsampling)
    buf.seek(0)
    with Image.open(buf) as f:
        tables = f.quantization
        # f.layer: one (component id, h, v, table index) per component, in frame-header order.
        luma = tables[f.layer[0][3]]
        chroma = tables[f.layer[1][3]]
        out = np.asarray(f.convert("RGB"))
    qt = np.minimum(np.asarray(list(luma) + list(chroma), dtype=np.float32), 255.0) / 255.0
    return out, qt


def _draw_qf(cfg, rng):
    if rng.random() < cfg.high_prob:
        return int(rng.integers(cfg.high_qf_min, cfg.high_qf_max + 1))
    if cfg.qf_power == 1.0:
        return int(rng.integers(cfg.qf_min, cfg.qf_max + 1))
    return cfg.qf_min + int((cfg.qf_max - cfg.qf_min + 1) * rng.random() ** cfg.qf_power)


def degrade(img, rng=None, qf=None, cfg=None):
    """degrade JPEG-compresses uint8 RGB `img` [H,W,3] and returns (degraded uint8 [H,W,3], qtable [128]).

    Eval mode (`qf` given): one pass at quality `qf`, 4:2:0 — the NTIRE 2024 / FBCNN protocol;
    deterministic, `rng` unused.
    Train mode (`qf` None): a random degradation drawn with `rng` (a numpy Generator) per `cfg`
    (a DegradeConfig, default DegradeConfig()): quality, optional double compression with a shifted
    first grid, 4:2:0 or 4:4:4. The JPEG grid starts at img's top-left corner, so a crop is
    compressed as a crop. The returned qtable is always that of the final file.
    """
    img = np.ascontiguousarray(img, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"want an [H,W,3] uint8 RGB image, got shape {img.shape}")
    if qf is not None:
        return jpeg_roundtrip(img, qf, SUBSAMPLING_420)
    if rng is None:
        raise ValueError("train mode needs an rng (or pass qf for eval mode)")
    cfg = cfg or DegradeConfig()
    h, w = img.shape[:2]
    src = img
    if rng.random() < cfg.double_prob:
        while True:
            dy, dx = (int(v) for v in rng.integers(0, 16, size=2))
            if dy % 8 or dx % 8:
                break
        # First pass on a grid starting (dy, dx) above-left of the crop: pad by edge replication,
        # compress, decode and crop back; the second pass below then uses the crop's own grid.
        padded = np.pad(img, ((dy, 0), (dx, 0), (0, 0)), mode="edge")
        sub1 = SUBSAMPLING_444 if rng.random() < cfg.p444 else SUBSAMPLING_420
        first, _ = jpeg_roundtrip(padded, _draw_qf(cfg, rng), sub1)
        src = np.ascontiguousarray(first[dy:dy + h, dx:dx + w])
    sub = SUBSAMPLING_444 if rng.random() < cfg.p444 else SUBSAMPLING_420
    return jpeg_roundtrip(src, _draw_qf(cfg, rng), sub)


# T.81 Annex K, tables K.1 (luminance) and K.2 (chrominance), natural order.
_K1 = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
       14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
       49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_K2 = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
       47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


def ijg_tables(qf):
    """ijg_tables returns libjpeg's (luma, chroma) tables for quality `qf`, natural order, baseline clamp.

    The formula of libjpeg's jpeg_quality_scaling and jpeg_add_quant_table(force_baseline=TRUE).
    """
    qf = min(max(int(qf), 1), 100)
    scale = 5000 // qf if qf < 50 else 200 - 2 * qf

    def one(base):
        return [min(max((b * scale + 50) // 100, 1), 255) for b in base]

    return one(_K1), one(_K2)


def estimate_qf(qtable):
    """estimate_qf returns the IJG quality (1..100) whose tables best match a [128] qtable vector (x255)."""
    t = np.round(np.asarray(qtable, dtype=np.float64) * 255.0)
    best, best_err = 0, None
    for q in range(1, 101):
        luma, chroma = ijg_tables(q)
        err = float(np.abs(t - np.asarray(luma + chroma)).sum())
        if best_err is None or err < best_err:
            best, best_err = q, err
    return best
