"""quantize_int8 tests: the QDQ model checks, quantizes every Conv but those kept float, and its
dequantized weights and the ranges it uses are those of the float model."""
import numpy as np
import onnx
import torch
from onnx import numpy_helper

from training.archs import build_arch
from training.export_onnx import export
from training.tools.quantize_int8 import activation_ranges, qdq, residual_blocks, stream_nodes, tensor_ranges, uint8_params

ARCH = {"type": "QUNet", "channels": [8, 12, 16], "enc_blocks": [1, 1], "mid_blocks": 1, "dec_blocks": [1, 1], "emb_ch": 16}


def tiny(tmp_path):
    torch.manual_seed(0)
    net = build_arch(ARCH).eval()
    path = tmp_path / "tiny.onnx"
    export(net, str(path))
    return net, onnx.load(str(path))


def test_qdq_quantizes_every_conv(tmp_path):
    net, model = tiny(tmp_path)
    batches = [(torch.rand(1, 3, 32, 32), torch.rand(1, 128)) for _ in range(3)]
    stats = activation_ranges(net, batches)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(stats) == 2 * len(convs) == 2 * sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    ranges = tensor_ranges(model, stats)
    q = qdq(model, ranges, keep_float=["tail."])
    ops = [n.op_type for n in q.graph.node]
    kept = sum(n.input[1].startswith("tail.") for n in convs)
    assert kept == 1
    quantized = len(convs) - kept
    assert ops.count("Conv") == len(convs)
    inputs = {n.input[0] for n in convs if not n.input[1].startswith("tail.")}
    biases = sum(len(n.input) > 2 and bool(n.input[2]) for n in convs if not n.input[1].startswith("tail."))
    # a pair on each distinct input and on each output; a dequantize of each weight and bias
    assert ops.count("QuantizeLinear") == len(inputs) + quantized
    assert ops.count("DequantizeLinear") == len(inputs) + quantized + quantized + biases
    inits = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    for n in convs:
        w = n.input[1]
        if w.startswith("tail."):
            assert w in inits and w + "_int8" not in inits
            continue
        w_int, scale = inits[w + "_int8"], inits[w + "_scale"]
        assert w_int.dtype == np.int8 and scale.shape == (w_int.shape[0],)
        original = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == w))
        np.testing.assert_allclose(w_int * scale[:, None, None, None], original, atol=float(scale.max()) / 2 + 1e-7)
        assert np.abs(w_int).max() == 127


def test_uint8_params_cover_the_range_and_zero():
    scale, zero = uint8_params(-1.0, 3.0)
    assert np.isclose(scale, 4 / 255) and zero == 64
    scale, zero = uint8_params(0.2, 0.5)  # zero is always on the grid
    assert zero == 0 and np.isclose(scale, 0.5 / 255)


def test_percentile_ranges_are_inside_the_whole_range(tmp_path):
    net, _ = tiny(tmp_path)
    batches = [(torch.rand(1, 3, 32, 32), torch.rand(1, 128)) for _ in range(2)]
    whole, clipped = activation_ranges(net, batches), activation_ranges(net, batches, percentile=99.0)
    assert whole.keys() == clipped.keys()
    for k, (lo, hi) in whole.items():
        assert lo <= clipped[k][0] <= clipped[k][1] <= hi
    assert any(clipped[k] != whole[k] for k in whole)


def test_quantized_head_sees_its_input_exactly(tmp_path):
    net, model = tiny(tmp_path)
    stats = activation_ranges(net, [(torch.rand(1, 3, 32, 32), torch.rand(1, 128))])
    ranges = tensor_ranges(model, stats)
    head = next(n for n in model.graph.node if n.op_type == "Conv" and n.input[1] == "head.weight")

    def offset(m):
        sub = next(n for n in m.graph.node if n.op_type == "Sub")
        const = next(n for n in m.graph.node if n.output[0] == sub.input[1])
        return float(numpy_helper.to_array(const.attribute[0].t))

    kept = qdq(model, ranges, keep_float=["head."])
    assert offset(kept) == 0.5 and offset(model) == 0.5
    q = qdq(model, ranges)
    assert np.isclose(offset(q), 128 / 255)
    inits = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    quant = next(n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == head.input[0])
    scale, zero = inits[quant.input[1]], inits[quant.input[2]]
    assert np.isclose(scale, 1 / 255) and zero == 128
    # every decoded pixel k/255 - 128/255 is the uint8 code k: no rounding at the input
    k = np.arange(256, dtype=np.float32)
    codes = (k / 255 - np.float32(offset(q))) / scale + zero
    np.testing.assert_allclose(codes, k, atol=1e-3)
    # the head's bias absorbs the new offset: away from the zero-padded border the head computes
    # what it did on image - 0.5
    weight = net.head.weight.detach()
    bias = torch.from_numpy((inits["head.bias_int32"] * inits["head.bias_scale"]).astype(np.float32))
    image = torch.randint(0, 256, (1, 3, 32, 32)).float() / 255
    before = torch.nn.functional.conv2d(torch.nn.functional.pixel_unshuffle(image - 0.5, 2), weight, net.head.bias, padding=1)
    after = torch.nn.functional.conv2d(torch.nn.functional.pixel_unshuffle(image - offset(q), 2), weight, bias, padding=1)
    atol = float(inits["head.bias_scale"].max())  # the int32 bias's own rounding
    torch.testing.assert_close(after[..., 1:-1, 1:-1], before[..., 1:-1, 1:-1], atol=atol, rtol=0)
    assert (after - before).abs().max() > atol  # the border does move: the padding is zero in the shifted input


def test_stream_runs_on_the_uint8_grid(tmp_path):
    net, model = tiny(tmp_path)
    batches = [(torch.rand(1, 3, 32, 32), torch.rand(1, 128)) for _ in range(2)]
    stats = activation_ranges(net, batches, stream=True)
    blocks = residual_blocks(model)
    assert sorted(blocks) == ["dec.0.0", "dec.1.0", "enc.0.0", "enc.1.0", "mid.0"]
    ranges = tensor_ranges(model, stats)
    on = stream_nodes(model, dict(ranges))
    assert len(on) == 3 * len(blocks) + 2  # each block's Mul and two Adds, and the two skip Adds
    q = qdq(model, ranges, keep_float=["tail."], stream=True)
    producer = {o: n for n in q.graph.node for o in n.output}
    inits = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}

    def dequantized(t):  # a DequantizeLinear output, directly or through a Conv's output Identity
        n = producer.get(t)
        while n is not None and n.op_type == "Identity":
            n = producer.get(n.input[0])
        return n is not None and n.op_type == "DequantizeLinear"

    nodes = [n for n in q.graph.node if n.name in on]
    assert len(nodes) == len(on)
    for n in nodes:
        assert all(dequantized(t) for t in n.input), n.name
        users = [u for u in q.graph.node if n.output[0] in u.input]
        float_tail = [u.op_type for u in users] == ["Conv"] and users[0].input[1] == "tail.weight"
        assert users and (float_tail or all(u.op_type == "QuantizeLinear" for u in users)), n.name
    # the block's first sum is quantized over its calibrated range, not a Conv's
    for name, b in blocks.items():
        quant = next(u for u in q.graph.node if u.op_type == "QuantizeLinear" and u.input[0] == b["add1"].output[0])
        scale, zero = uint8_params(*stats[(name, "mid")])
        assert np.isclose(inits[quant.input[1]], scale) and inits[quant.input[2]] == zero
    # a float stream where asked: level 0's blocks and its skip keep float inputs
    kept = stream_nodes(model, dict(ranges), ["enc.0.", "dec.0.", "up.0"])
    assert len(kept) == 3 * (len(blocks) - 2) + 1 and kept < on
    q0 = qdq(model, ranges, keep_float=["tail."], stream=True, stream_float=["enc.0.", "dec.0.", "up.0"])
    producer = {o: n for n in q0.graph.node for o in n.output}
    for n in q0.graph.node:
        if n.name in on - kept:
            assert not all(dequantized(t) for t in n.input), n.name
    # without stream the block terms are not measured, and nothing but Convs is quantized
    plain = qdq(model, tensor_ranges(model, activation_ranges(net, batches)))
    assert [n.op_type for n in plain.graph.node].count("QuantizeLinear") < [n.op_type for n in q.graph.node].count("QuantizeLinear")
