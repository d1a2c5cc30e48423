"""degrade() tests: qtable order pinned to the IJG formula, QF recovered, subsampling, modes."""
import io

import numpy as np
import pytest
from PIL import Image

from training.data.degrade import DegradeConfig, degrade, estimate_qf, ijg_tables, jpeg_roundtrip


def make_image(h=64, w=96, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 2, yy * 3, (xx + yy)], -1).astype(np.float64)
    return np.clip(base + rng.normal(0, 20, size=(h, w, 3)), 0, 255).astype(np.uint8)


def test_ijg_formula_q50_is_annex_k():
    luma, chroma = ijg_tables(50)
    assert luma[:8] == [16, 11, 10, 16, 24, 40, 51, 61]
    assert luma[8:11] == [12, 12, 14]
    assert chroma[:4] == [17, 18, 24, 47]


@pytest.mark.parametrize("qf", [10, 25, 50, 75, 90])
def test_qtable_natural_order_matches_ijg(qf):
    _, qt = jpeg_roundtrip(make_image(), qf)
    luma, chroma = ijg_tables(qf)
    np.testing.assert_array_equal(np.round(qt * 255).astype(int), np.asarray(luma + chroma))


def test_pillow_quantization_is_natural_order():
    # Pins Pillow's behaviour: Image.quantization is natural (row-major) order, not zigzag.
    buf = io.BytesIO()
    Image.fromarray(make_image()).save(buf, format="JPEG", quality=50)
    buf.seek(0)
    q = Image.open(buf).quantization
    assert list(q[0])[:11] == [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14]


@pytest.mark.parametrize("qf", [10, 20, 30, 40, 50, 60, 70, 80, 95])
def test_eval_mode_qf_recovered(qf):
    out, qt = degrade(make_image(), qf=qf)
    assert out.dtype == np.uint8 and out.shape == (64, 96, 3)
    assert qt.dtype == np.float32 and qt.shape == (128,)
    assert estimate_qf(qt) == qf
    assert qt.max() <= 1.0 and qt.min() > 0


def test_low_qf_clamped_to_255():
    _, qt = degrade(make_image(), qf=1)
    assert qt.max() == 1.0


def test_eval_mode_deterministic_and_420():
    img = make_image()
    a, qa = degrade(img, qf=30)
    b, qb = degrade(img, qf=30)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(qa, qb)
    c, _ = jpeg_roundtrip(img, 30, subsampling=2)
    np.testing.assert_array_equal(a, c)


def chroma_detail(img):
    """Energy of the Cb channel's 1-pixel differences (4:2:0 smooths it out)."""
    ycc = np.asarray(Image.fromarray(img).convert("YCbCr")).astype(np.float64)
    return np.abs(np.diff(ycc[..., 1], axis=1)).mean()


def test_444_keeps_more_chroma_than_420():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    a420, _ = jpeg_roundtrip(img, 90, subsampling=2)
    a444, _ = jpeg_roundtrip(img, 90, subsampling=0)
    assert chroma_detail(a444) > 1.5 * chroma_detail(a420)


def test_train_mode_distribution():
    rng = np.random.default_rng(0)
    img = make_image(32, 32)
    qfs = [estimate_qf(degrade(img, rng)[1]) for _ in range(400)]
    qfs = np.asarray(qfs)
    assert qfs.min() >= 10 and qfs.max() <= 95
    high = np.mean(qfs > 70)
    assert 0.07 < high < 0.25


def test_qf_power_leans_towards_low_qf():
    from training.data.degrade import _draw_qf
    rng = np.random.default_rng(0)
    flat = DegradeConfig(high_prob=0.0)
    lean = DegradeConfig(high_prob=0.0, qf_power=1.5)
    a = np.array([_draw_qf(flat, rng) for _ in range(20000)])
    b = np.array([_draw_qf(lean, rng) for _ in range(20000)])
    for qfs in (a, b):
        assert qfs.min() == 10 and qfs.max() == 70
    assert abs(np.mean(a <= 20) - 11 / 61) < 0.01
    assert abs(np.mean(b <= 20) - (11 / 61) ** (1 / 1.5)) < 0.01  # P(u**p < x) = x**(1/p)


def test_train_mode_double_and_444_paths():
    img = make_image()
    out, qt = degrade(img, np.random.default_rng(0), cfg=DegradeConfig(double_prob=1.0, p444=1.0))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert 10 <= estimate_qf(qt) <= 95
    # A second pass on a shifted grid leaves a different image than one pass at the final quality.
    single, _ = jpeg_roundtrip(img, estimate_qf(qt), subsampling=0)
    assert not np.array_equal(out, single)


def test_train_mode_reproducible_with_seed():
    img = make_image()
    a = degrade(img, np.random.default_rng(7))
    b = degrade(img, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_train_mode_needs_rng():
    with pytest.raises(ValueError):
        degrade(make_image())
