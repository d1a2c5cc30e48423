"""grow.widen_into: a wider QUNet started from a narrower one computes the same function, then learns."""
import numpy as np
import pytest
import torch

from training.archs import build_arch
from training.models.grow import load_weights, widen_into

NARROW = {"type": "QUNet", "channels": [8, 12, 16], "enc_blocks": [1, 2], "mid_blocks": 1,
          "dec_blocks": [2, 1], "emb_ch": 16}
WIDE = dict(NARROW, channels=[12, 16, 24])


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 32, 48, generator=g), torch.rand(2, 128, generator=g)


def _trained_like(arch, seed):
    """a narrow net with every weight random (FiLM and tail are zero at init, which would hide bugs)."""
    torch.manual_seed(seed)
    net = build_arch(arch)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def test_widened_net_computes_the_same_function():
    narrow = _trained_like(NARROW, 1).eval()
    torch.manual_seed(2)
    wide = build_arch(WIDE).eval()
    grown = widen_into(wide, narrow.state_dict())
    assert grown > 10
    image, qt = _inputs()
    with torch.no_grad():
        want, got = narrow(image, qt), wide(image, qt)
    assert torch.allclose(got, want, atol=1e-6), float((got - want).abs().max())
    # the new channels are not dead: the zeroed weights that read them get gradients at once
    wide.train()
    (wide(image, qt) - image).abs().mean().backward()
    assert wide.tail.weight.grad[:, 8:].abs().sum() > 0
    assert wide.enc[1][0].conv1.weight.grad[:12, 12:].abs().sum() > 0


def test_same_shape_is_a_plain_copy():
    a, b = _trained_like(NARROW, 1), build_arch(NARROW)
    assert widen_into(b, a.state_dict()) == 0
    for k, v in a.state_dict().items():
        assert torch.equal(b.state_dict()[k], v)


@pytest.mark.parametrize("target", [
    dict(NARROW, channels=[4, 12, 16]),          # narrower than the weights
    dict(NARROW, mid_blocks=2),                  # a block more: the names do not match
])
def test_refuses_what_it_cannot_widen(target):
    with pytest.raises(ValueError):
        widen_into(build_arch(target), build_arch(NARROW).state_dict())


def test_load_weights_reads_onnx_initializers(tmp_path):
    onnx = pytest.importorskip("onnx")  # noqa: F841
    net = _trained_like(NARROW, 3).eval()
    path = tmp_path / "m.onnx"
    image, qt = _inputs()
    torch.onnx.export(net, (image, qt), str(path), input_names=["image", "qtable"], output_names=["restored"],
                      opset_version=13, do_constant_folding=True)
    weights = load_weights(path)
    assert set(weights) == set(net.state_dict())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(weights[k].numpy(), v.numpy())
