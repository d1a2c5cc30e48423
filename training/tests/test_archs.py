"""Arch tests on CPU: shapes for both presets, bounded receptive field, shift equivariance, registry."""
import pytest
import torch

from training.archs import ARCH_REGISTRY, build_arch
from training.utils.options import load_options

PRESETS = ["fast", "best"]


def preset_net(name):
    torch.manual_seed(0)
    return build_arch(load_options(f"options/{name}.yml")["network_g"]).eval()


def test_registry_selects_by_name():
    assert "QUNet" in ARCH_REGISTRY
    with pytest.raises(KeyError):
        build_arch({"type": "NoSuchNet"})


def test_build_arch_does_not_modify_options():
    opt = {"type": "QUNet", "channels": [8, 8], "enc_blocks": [1], "mid_blocks": 1, "dec_blocks": [1]}
    build_arch(opt)
    assert opt["type"] == "QUNet"


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("hw", [(48, 80), (16, 16), (64, 48)])
def test_shape(name, hw):
    net = preset_net(name)
    x = torch.rand(2, 3, *hw)
    q = torch.rand(2, 128)
    with torch.no_grad():
        y = net(x, q)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_qtable_conditions_output():
    net = preset_net("fast")
    # FiLM starts as identity; give it weights so the qtable matters.
    for m in net.modules():
        if hasattr(m, "film"):
            torch.nn.init.normal_(m.film.weight, std=0.1)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a = net(x, torch.full((1, 128), 0.1))
        b = net(x, torch.full((1, 128), 0.9))
    assert (a - b).abs().max() > 1e-6


def small_net():
    torch.manual_seed(0)
    net = build_arch({"type": "QUNet", "channels": [8, 12, 16, 16], "enc_blocks": [1, 1, 1], "mid_blocks": 1,
                      "dec_blocks": [1, 1, 1], "emb_ch": 16}).double().eval()
    for m in net.modules():
        if hasattr(m, "film"):
            torch.nn.init.normal_(m.film.weight, std=0.1)
    return net


def test_receptive_field_bounded():
    net = preset_net("fast").double()
    # The fast preset's receptive field is 400 pixels wide (radius 200): perturb pixels > 300 away.
    x = torch.rand(1, 3, 384, 384, dtype=torch.float64)
    q = torch.rand(1, 128, dtype=torch.float64)
    x2 = x.clone()
    x2[0, :, 368:372, 368:372] = 1 - x2[0, :, 368:372, 368:372]
    with torch.no_grad():
        a = net(x, q)[0, :, :48, :48]
        b = net(x2, q)[0, :, :48, :48]
    assert torch.equal(a, b)


def test_shift_equivariance_16():
    net = small_net()
    x = torch.rand(1, 3, 384, 384, dtype=torch.float64)
    q = torch.rand(1, 128, dtype=torch.float64)
    with torch.no_grad():
        a = net(x, q)
        b = net(torch.roll(x, shifts=(16, 32), dims=(2, 3)), q)
    # Compare an interior window >= 128 pixels from the borders and the roll's wrap seam, more than
    # this small net's receptive-field radius.
    inner_a = a[0, :, 160:224, 160:224]
    inner_b = b[0, :, 176:240, 192:256]
    assert torch.allclose(inner_a, inner_b, atol=1e-10)
