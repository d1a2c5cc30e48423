"""average: the weighted mean of checkpoints of one architecture."""
import pytest
import torch

from training.average import average


def test_average(tmp_path, make_ckpt, tiny_arch):
    a, b = make_ckpt(tmp_path / "a.pt", 1), make_ckpt(tmp_path / "b.pt", 2)
    average([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "m.pt", weights=[3, 1])
    got = torch.load(tmp_path / "m.pt")
    for k in a:
        assert torch.allclose(got["net_ema"][k], (3 * a[k] + b[k]) / 4)
    assert got["step"] == 1 and len(got["averaged"]) == 2
    make_ckpt(tmp_path / "w.pt", 3, dict(tiny_arch, channels=[8, 12, 24]))
    with pytest.raises(ValueError):
        average([tmp_path / "a.pt", tmp_path / "w.pt"], tmp_path / "x.pt")
