"""Arch tests on CPU: shapes for both presets, bounded receptive field, shift equivariance (every block),
rep fusion, registry."""
import pytest
import torch

from training.archs import ARCH_REGISTRY, build_arch
from training.archs.qunet_arch import fuse_rep
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


BLOCKS = ["res", "rep", "naf"]


def small_net(block="res"):
    torch.manual_seed(0)
    net = build_arch({"type": "QUNet", "channels": [8, 12, 16, 16], "enc_blocks": [1, 1, 1], "mid_blocks": 1,
                      "dec_blocks": [1, 1, 1], "emb_ch": 16, "block": block}).double().eval()
    # Give every parameter that starts at zero (FiLM, NAF's beta/gamma, rep's 1x1 branch) some weight.
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net


def test_unknown_block_is_an_error():
    with pytest.raises(ValueError, match="block"):
        build_arch({"type": "QUNet", "channels": [8, 8], "enc_blocks": [1], "mid_blocks": 1, "dec_blocks": [1],
                    "block": "swin"})


@pytest.mark.parametrize("block", BLOCKS)
def test_new_blocks_start_as_identity_corrections(block):
    """A fresh network's blocks start near the identity: the output stays close to the input."""
    torch.manual_seed(0)
    net = build_arch({"type": "QUNet", "channels": [8, 12, 16], "enc_blocks": [1, 1], "mid_blocks": 1,
                      "dec_blocks": [1, 1], "emb_ch": 16, "block": block}).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y = net(x, torch.rand(1, 128))
    assert (y - x).abs().mean() < 0.05


def test_fuse_rep_is_the_same_function_as_a_res_net():
    net = small_net("rep")
    x = torch.rand(1, 3, 96, 64, dtype=torch.float64)
    q = torch.rand(1, 128, dtype=torch.float64)
    with torch.no_grad():
        want = net(x, q)
        fuse_rep(net)
        got = net(x, q)
    assert torch.allclose(got, want, atol=1e-12)
    res = build_arch({"type": "QUNet", "channels": [8, 12, 16, 16], "enc_blocks": [1, 1, 1], "mid_blocks": 1,
                      "dec_blocks": [1, 1, 1], "emb_ch": 16}).double().eval()
    res.load_state_dict(net.state_dict())  # strict: the fused net has exactly the res net's parameters
    with torch.no_grad():
        assert torch.allclose(res(x, q), want, atol=1e-12)


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


@pytest.mark.parametrize("block", BLOCKS)
def test_shift_equivariance_16(block):
    net = small_net(block)
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
