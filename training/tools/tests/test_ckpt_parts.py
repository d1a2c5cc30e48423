"""ckpt_parts: split/join round trip, parts under the size limit, float16 parts."""
import pytest
import torch

from training.models.jpeg_model import load_eval_net
from training.tools.ckpt_parts import join, split


def test_split_join_round_trip(tmp_path, make_ckpt):
    want = make_ckpt(tmp_path / "a.pt", 1)
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


def test_split_half(tmp_path, make_ckpt):
    want = make_ckpt(tmp_path / "a.pt", 1)
    parts = split(tmp_path / "a.pt", tmp_path / "parts", half=True)
    assert all(t.dtype == torch.float16 for p in parts for t in torch.load(p)["net_ema"].values())
    join(parts, tmp_path / "b.pt")
    got = torch.load(tmp_path / "b.pt")["net_ema"]
    for k, v in want.items():  # float32 again, holding the float16 values
        assert got[k].dtype == torch.float32 and torch.equal(got[k], v.half().float())
