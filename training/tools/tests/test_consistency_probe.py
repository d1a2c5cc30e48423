"""consistency_probe tests: the projection moves towards the encoded image, lands in the bins, and\nleaves a decoded JPEG's luma (already in its bins) nearly alone."""
import numpy as np

from training.tools.consistency_probe import (DCT8, SHIFTED_GRID_ABOVE, _blocks, bins, compress_case, double_quantized,
                                             outside, project, quantized, rgb_to_ycc, shifted_grid)


def smooth_image(h=64, w=96):
    """smooth_image is a gradient with a soft ripple, well inside [0, 255] (no clipping anywhere)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([60 + xx, 80 + yy, 100 + 0.5 * (xx + yy)], -1) + 20 * np.sin(xx / 5)[..., None]
    return np.round(base).astype(np.uint8)


def test_dct_is_orthonormal():
    np.testing.assert_allclose(DCT8 @ DCT8.T, np.eye(8), atol=1e-12)


def test_decoded_luma_is_in_its_bins():
    src = smooth_image()
    lq, seen, qf = compress_case(src, "30")
    assert qf == 30 and seen is src
    luma, chroma = bins(qf)
    # The decoded luma re-quantizes to the file's coefficients (libjpeg's integer DCT and 8-bit
    # rounding aside), so the projection leaves it nearly alone.
    assert np.mean(quantized(lq, luma, chroma)[0] == quantized(src, luma, chroma)[0]) > 0.99
    proj = project(lq, quantized(src, luma, chroma), luma, chroma)
    dy = rgb_to_ycc(proj)[0] - rgb_to_ycc(lq)[0]
    assert np.abs(dy).mean() < 0.5


def test_projection_moves_luma_towards_the_encoded_image():
    src = smooth_image()
    luma, chroma = bins(90)
    coefs = quantized(src, luma, chroma)
    noisy = np.clip(src + np.random.default_rng(2).normal(0, 12, src.shape), 0, 255).astype(np.uint8)
    proj = project(noisy, coefs, luma, chroma)
    ys, yn, yp = (rgb_to_ycc(a)[0] for a in (src, noisy, proj))
    assert np.mean((yp - ys) ** 2) < 0.5 * np.mean((yn - ys) ** 2)
    # A second projection moves (almost) nothing: the first landed in the bins up to 8-bit rounding.
    again = project(proj, coefs, luma, chroma)
    assert np.abs(again.astype(int) - proj.astype(int)).max() <= 2


def test_double_compression_case():
    src = smooth_image()
    lq, seen, qf = compress_case(src, "10>50@4")
    assert qf == 50 and seen.shape == src.shape and not np.array_equal(seen, src)


def test_outside_and_narrow_bins():
    src = smooth_image()
    luma, chroma = bins(50)
    coefs = quantized(src, luma, chroma)
    assert outside(src, coefs, luma) == (0.0, 0.0)  # the encoder's own image is in its bins
    noisy = np.clip(src + np.random.default_rng(3).normal(0, 12, src.shape), 0, 255).astype(np.uint8)
    share, dist = outside(noisy, coefs, luma)
    assert share > 0.01 and dist > 0
    # Narrower bins pull harder: the luma ends nearer the file's coefficients.
    wide, narrow = project(noisy, coefs, luma, chroma), project(noisy, coefs, luma, chroma, alpha=0.2)
    assert outside(narrow, coefs, luma)[1] <= outside(wide, coefs, luma)[1] + 1e-3

    def spread(img):
        f = DCT8 @ np.stack([b for row in _blocks(rgb_to_ycc(img)[0] - 128) for b in row]) @ DCT8.T
        return np.mean(np.abs(f / luma - coefs[0].reshape(-1, 8, 8)))
    assert spread(narrow) < spread(wide)


def test_double_quantized_tells_a_resaved_file():
    rng = np.random.default_rng(4)
    # A textured image: enough coefficients for the histograms.
    src = np.clip(smooth_image(256, 256).astype(float) + rng.normal(0, 25, (256, 256, 3)), 0, 255).astype(np.uint8)
    scores = {}
    for case in ("30", "70", "10>30", "30>70"):
        _, seen, qf = compress_case(src, case)
        luma, chroma = bins(qf)
        scores[case] = double_quantized(quantized(seen, luma, chroma)[0])
    assert scores["30"] < 0.02 and scores["70"] < 0.02, scores
    assert scores["10>30"] > 0.2 and scores["30>70"] > 0.2, scores


def test_shifted_grid_tells_a_crop_between_saves():
    rng = np.random.default_rng(5)
    src = np.clip(smooth_image(256, 320).astype(float) + rng.normal(0, 3, (256, 320, 3)), 0, 255).astype(np.uint8)
    once = shifted_grid(compress_case(src, "70")[0])
    cropped = shifted_grid(compress_case(src, "20>70@4")[0])
    assert once < SHIFTED_GRID_ABOVE < cropped, (once, cropped)
