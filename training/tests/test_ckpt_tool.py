"""ckpt_tool: split/join round trip, parts under the size limit, and weighted averages."""
import pytest
import torch

from training.archs import build_arch
from training.ckpt_tool import average, join, split
from training.models.jpeg_model import load_eval_net

ARCH = {"type": "QUNet", "channels": [8, 12, 16], "enc_blocks": [1, 1], "mid_blocks": 1,
        "dec_blocks": [1, 1], "emb_ch": 16}


def _ckpt(path, seed, arch=ARCH):
    torch.manual_seed(seed)
    net = build_arch(arch)
    torch.save({"step": seed, "options": {"name": "t", "network_g": arch}, "net_ema": net.state_dict()}, path)
    return net.state_dict()


def test_split_join_round_trip(tmp_path):
    want = _ckpt(tmp_path / "a.pt", 1)
    total = sum(t.numel() * t.element_size() for t in want.values())
    parts = split(tmp_path / "a.pt", tmp_path / "parts", max_mb=total / 3 / 1e6)
    assert len(parts) >= 3
    biggest = max(t.numel() * t.element_size() for t in want.values())
    for p in parts:  # each part stays under the limit, unless one tensor alone is larger
        size = sum(t.numel() * t.element_size() for t in torch.load(p)["net_ema"].values())
        assert size <= max(total / 3, biggest)
    join(list(reversed(parts)), tmp_path / "b.pt")
    net, opt = load_eval_net(tmp_path / "b.pt")
    assert opt["name"] == "t" and torch.load(tmp_path / "b.pt")["step"] == 1
    for k, v in want.items():
        assert torch.equal(net.state_dict()[k], v)
    with pytest.raises(ValueError):
        join(parts[:-1], tmp_path / "c.pt")


def test_split_half(tmp_path):
    want = _ckpt(tmp_path / "a.pt", 1)
    parts = split(tmp_path / "a.pt", tmp_path / "parts", half=True)
    assert all(t.dtype == torch.float16 for p in parts for t in torch.load(p)["net_ema"].values())
    join(parts, tmp_path / "b.pt")
    got = torch.load(tmp_path / "b.pt")["net_ema"]
    for k, v in want.items():  # float32 again, holding the float16 values
        assert got[k].dtype == torch.float32 and torch.equal(got[k], v.half().float())


def test_average(tmp_path):
    a, b = _ckpt(tmp_path / "a.pt", 1), _ckpt(tmp_path / "b.pt", 2)
    average([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "m.pt", weights=[3, 1])
    got = torch.load(tmp_path / "m.pt")
    for k in a:
        assert torch.allclose(got["net_ema"][k], (3 * a[k] + b[k]) / 4)
    assert got["step"] == 1 and len(got["averaged"]) == 2
    _ckpt(tmp_path / "w.pt", 3, dict(ARCH, channels=[8, 12, 24]))
    with pytest.raises(ValueError):
        average([tmp_path / "a.pt", tmp_path / "w.pt"], tmp_path / "x.pt")
