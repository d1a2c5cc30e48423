"""models/qat.py tests: the fake-quantized forward pass computes what the int8 QDQ export computes
(run by a small evaluator of the export's operators, below), and its gradients reach every weight."""
import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from torch.nn import functional as F

from training.archs import build_arch
from training.export_onnx import export
from training.models.qat import QATForward, fake_int8_weight, fake_uint8, uint8_grid
from training.tools.quantize_int8 import activation_ranges, qdq, tensor_ranges

ARCH = {"type": "QUNet", "channels": [8, 12, 16], "enc_blocks": [1, 1], "mid_blocks": 1, "dec_blocks": [1, 1], "emb_ch": 16}


def run_onnx(model, feeds):
    """run_onnx evaluates the graph node by node by the ONNX operator definitions, in float32 (Debian's
    onnx 1.12 has no reference evaluator): the operators that export_onnx and quantize_int8 emit."""
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    env.update({k: torch.from_numpy(v) for k, v in feeds.items()})
    for n in model.graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        x = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Constant":
            y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
        elif op == "QuantizeLinear":
            y = torch.clamp(torch.round(x[0] / x[1].float()) + x[2].float(), 0, 255).to(torch.uint8)
        elif op == "DequantizeLinear":
            shape = [-1] + [1] * (x[0].dim() - 1) if x[1].dim() == 1 else []
            y = (x[0].float() - x[2].float().reshape(shape)) * x[1].float().reshape(shape)
        elif op in ("Add", "Mul", "Sub", "Div"):
            y = {"Add": torch.add, "Mul": torch.mul, "Sub": torch.sub, "Div": torch.div}[op](x[0], x[1])
            if op == "Div" and x[0].dtype == torch.int64:
                y = torch.div(x[0], x[1], rounding_mode="trunc")
        elif op == "Identity":
            y = x[0]
        elif op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            assert pads[:2] == pads[2:]
            y = F.conv2d(x[0], x[1], x[2], stride=a.get("strides", 1), padding=tuple(pads[:2]),
                         dilation=a.get("dilations", 1), groups=a.get("group", 1))
        elif op == "Gemm":
            b = x[1].T if a.get("transB") else x[1]
            y = a.get("alpha", 1.0) * (x[0] @ b) + a.get("beta", 1.0) * x[2]
        elif op == "LeakyRelu":
            y = F.leaky_relu(x[0], a.get("alpha", 0.01))
        elif op == "Slice":
            y = x[0]
            axes = x[3].tolist() if len(x) > 3 else list(range(len(x[1])))
            for axis, lo, hi in zip(axes, x[1].tolist(), x[2].tolist()):
                size = y.shape[axis]
                y = y.narrow(axis, min(lo, size), min(hi, size) - min(lo, size))
        elif op == "Unsqueeze":
            y = x[0]
            for axis in sorted(x[1].tolist()):
                y = y.unsqueeze(axis)
        elif op == "Squeeze":
            y = x[0]
            for axis in sorted(x[1].tolist(), reverse=True):
                y = y.squeeze(axis)
        elif op == "Shape":
            y = torch.tensor(x[0].shape, dtype=torch.int64)
        elif op == "Gather":
            y = torch.index_select(x[0], a.get("axis", 0), x[1].reshape(-1)).reshape(
                x[0].shape[:a.get("axis", 0)] + x[1].shape + x[0].shape[a.get("axis", 0) + 1:])
        elif op == "Reshape":
            shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(x[1].tolist())]
            y = x[0].reshape(shape)
        elif op == "Transpose":
            y = x[0].permute(a["perm"])
        elif op == "DepthToSpace":
            assert a.get("mode", b"DCR") in (b"CRD", "CRD")
            y = F.pixel_shuffle(x[0], a["blocksize"])
        else:
            raise NotImplementedError(op)
        env[n.output[0]] = y
    return [env[o.name].numpy() for o in model.graph.output]


def trained_like(seed=0):
    """A tiny QUNet whose FiLM and tail are not at their zero start, so every term of the stream counts."""
    torch.manual_seed(seed)
    net = build_arch(ARCH).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "film" in name or "tail" in name:
                p.normal_(0, 0.2)
    return net


def test_fake_uint8_is_the_export_grid():
    grid = uint8_grid(-1.0, 3.0)
    x = torch.tensor([-2.0, -1.0, 0.0, 0.01, 1.234, 3.0, 9.0], requires_grad=True)
    y = fake_uint8(x, grid)
    scale, zero = grid
    codes = y.detach() / scale + zero
    np.testing.assert_allclose(codes, codes.round(), atol=1e-4)  # on the grid
    assert y[0].item() == pytest.approx(-64 * scale) and y[-1].item() == pytest.approx(191 * scale)  # clipped
    assert y[2].item() == 0  # zero is exact
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]  # straight through inside, nothing where it clips
    # bf16 in, bf16 out, but rounded in float32
    assert fake_uint8(x.detach().bfloat16(), grid).dtype == torch.bfloat16


def test_fake_int8_weight_is_per_output_channel():
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    q = fake_int8_weight(w)
    scale = w.detach().abs().flatten(1).amax(1) / 127
    codes = q.detach() / scale[:, None, None, None]
    np.testing.assert_allclose(codes, codes.round(), atol=1e-4)
    assert codes.abs().flatten(1).amax(1).tolist() == pytest.approx([127] * 4)
    assert (q - w).abs().max() <= scale.max() / 2 + 1e-7
    q.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


@pytest.mark.parametrize("stream_float", [(), ("enc.0.", "dec.0.", "up.0")])
def test_qat_forward_is_the_int8_export(tmp_path, stream_float):
    net = trained_like()
    torch.manual_seed(1)
    batches = [(torch.randint(0, 256, (1, 3, 32, 32)).float() / 255, torch.rand(1, 128)) for _ in range(3)]
    stats = activation_ranges(net, batches, percentile=99.0, stream=True)  # clipped ranges: clipping counts too
    path = tmp_path / "tiny.onnx"
    export(net, str(path))
    model = onnx.load(str(path))
    q = qdq(model, tensor_ranges(model, stats), keep_float=["tail."], stream=True, stream_float=list(stream_float))
    image, qtable = batches[0]
    int8 = run_onnx(q, {"image": image.numpy(), "qtable": qtable.numpy()})[0]
    np.testing.assert_allclose(run_onnx(model, {"image": image.numpy(), "qtable": qtable.numpy()})[0],
                               net(image, qtable).detach().numpy(), atol=1e-5)  # the evaluator is right
    with torch.no_grad():
        fake = QATForward(net, stats, keep_float=["tail."], stream_float=stream_float)(image, qtable).numpy()
        flt = net(image, qtable).numpy()
    # The int8 model differs from the float one by its rounding; the fake-quantized forward computes
    # the same rounding. It differs from the export only by the export's int32 biases and where an
    # activation lies within float error of a rounding boundary: a few codes of one step.
    err_float, err_fake = np.abs(int8 - flt), np.abs(int8 - fake)
    assert err_float.mean() > 1e-3
    assert err_fake.mean() < err_float.mean() / 20, (err_fake.mean(), err_float.mean())
    assert np.median(err_fake) < 1e-5


def test_qat_forward_trains_every_weight():
    net = trained_like().train()
    batches = [(torch.rand(1, 3, 32, 32), torch.rand(1, 128))]
    qat = QATForward(net, activation_ranges(net, batches, stream=True), stream_float=("enc.0.",))
    image, qtable = torch.rand(2, 3, 32, 32), torch.rand(2, 128)
    qat(image, qtable).square().mean().backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead


def test_qat_needs_the_stream_ranges():
    net = trained_like()
    batches = [(torch.rand(1, 3, 32, 32), torch.rand(1, 128))]
    with pytest.raises(ValueError, match="calibrate"):
        QATForward(net, activation_ranges(net, batches))  # no stream terms
    QATForward(net, activation_ranges(net, batches), stream=False)
