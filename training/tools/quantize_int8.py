"""Int8 QDQ export of a shipped model (issue: int8 inference on the CPU), by post-training calibration.

python3 training/tools/quantize_int8.py -opt training/options/fast.yml --model models/fast-float.onnx \
    --out .train/int8/fast-int8.onnx [--crops 64] [--keep-float tail.] [--percentile 99.9] \
    [--stream [--stream-float enc.0.,dec.0.,up.0]] [--from-options]

Every Conv of the ONNX model gets QuantizeLinear/DequantizeLinear pairs in the form ONNX Runtime fuses
into int8 convolutions (VNNI on these CPUs): weights int8, symmetric, per output channel; bias int32 at
the product of the scales; the Conv's input and output uint8, per tensor, over the range the float
model's activations took on calibration crops. The crops are random 256-pixel crops of the training
photos (../shared/data/train/photos*, never Kodak24), degraded by the training degradation; the
ranges are measured in PyTorch (the arch of -opt, with the ONNX model's weights: the initializers
carry the state dict's names). Convs whose weight name starts with a --keep-float prefix stay float.
The graph quantized is today's export of those weights (export_onnx.export), so an int8 copy of an
older float file gets the graph changes made since. A quantized head sees its input exactly: the
network's image - 0.5 becomes image - 128/255, which is on the uint8 grid, and the head's bias makes
up the difference (exact_head_input).
With --stream the residual stream between the Convs (each block's x + h * scale + shift, each skip
sum) is quantized too, over the ranges of those terms on the same crops, so that ONNX Runtime runs it
as QLinearMul/QLinearAdd instead of float passes over the image; --stream-float names blocks and
skips whose stream stays float (qdq, stream_nodes).
--from-options takes all of these from the options' int8 section: the calibration shipped, which
train.py --qat also trains through (models/qat.py).
The manifest beside --out is the float model's with the new file, sha256, name (--name, or the float
one's + "-int8"), weights "int8-qdq" and the calibration (quantization), and no PSNR table: measure it with `bin/jpegrestore eval --model OUT.json` and the speed with
`JPEGRESTORE_BENCH_MODEL=OUT.json go test -run '^$' -bench RawSession ./gpuworker` beside the float one.
"""
import argparse
import glob
import hashlib
import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from training.archs import build_arch  # noqa: E402
from training.archs.qunet_arch import FiLMResBlock  # noqa: E402
from training.export_onnx import export  # noqa: E402
from training.models.grow import load_weights  # noqa: E402
from training.utils.options import load_options  # noqa: E402


def activation_ranges(net, batches, percentile=100.0, stream=False):
    """activation_ranges runs net on each (image, qtable) batch and returns {(conv module name, "in"|"out"): [lo, hi]}:
    the lowest and highest value over the batches, or with percentile < 100 the widest of each batch's
    (100 - percentile, percentile) percentiles, which lets a few outliers clip for a finer grid. With
    stream, also {(residual block name, "scale"|"shift"|"prod"|"mid"): [lo, hi]} of each FiLMResBlock's
    terms (x + h * scale + shift: the FiLM scale and shift, h * scale, and x + h * scale)."""
    stats, hooks = {}, []
    tail = (100.0 - percentile) / 100.0

    def note(key, t):
        if tail > 0:
            v = t.flatten().float()
            k = max(1, int(v.numel() * tail))
            lo, hi = -torch.topk(-v, k).values[-1].item(), torch.topk(v, k).values[-1].item()
        else:
            lo, hi = t.min().item(), t.max().item()
        s = stats.setdefault(key, [lo, hi])
        s[0], s[1] = min(s[0], lo), max(s[1], hi)

    def conv_hook(name):
        def record(_mod, inp, out):
            note((name, "in"), inp[0])
            note((name, "out"), out)
        return record

    def block_hook(name):
        def record(mod, inp, _out):
            h, scale, shift = mod.parts(*inp)
            note((name, "scale"), scale)
            note((name, "shift"), shift)
            note((name, "prod"), h * scale)
            note((name, "mid"), inp[0] + h * scale)
        return record

    for name, mod in net.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook(name)))
        elif stream and isinstance(mod, FiLMResBlock):
            hooks.append(mod.register_forward_hook(block_hook(name)))
    try:
        with torch.no_grad():
            for image, qtable in batches:
                net(image, qtable)
    finally:
        for h in hooks:
            h.remove()
    return stats


def stored(model):
    """stored returns {tensor name: initializer name} of the tensors that are an initializer, directly
    or through a Cast (export_onnx.py stores best's weights as float16 and casts them to float32)."""
    names = {i.name: i.name for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Cast" and n.input[0] in names:
            names[n.output[0]] = names[n.input[0]]
    return names


def consumers(model, tensor):
    return [n for n in model.graph.node if tensor in n.input]


def residual_blocks(model):
    """residual_blocks finds each FiLMResBlock in the graph by its structure, conv2 -> Mul(scale) ->
    Add(x) -> Add(shift), and returns {block name: {"mul", "add1", "add2": the nodes; "scale", "x",
    "shift": their other inputs}}. The names are those of the graph given: a qdq copy keeps them."""
    names, blocks = stored(model), {}
    for conv in model.graph.node:
        weight = names.get(conv.input[1], conv.input[1]) if conv.op_type == "Conv" else ""
        if not weight.endswith(".conv2.weight"):
            continue
        found, prev = {}, conv.output[0]
        for key, op, other in (("mul", "Mul", "scale"), ("add1", "Add", "x"), ("add2", "Add", "shift")):
            nexts = [n for n in consumers(model, prev) if n.op_type == op]
            if len(nexts) != 1:
                break
            found[key], found[other] = nexts[0], next(i for i in nexts[0].input if i != prev)
            prev = nexts[0].output[0]
        if len(found) == 6:
            blocks[weight[:-len(".conv2.weight")]] = found
    return blocks


def tensor_ranges(model, stats):
    """tensor_ranges maps the ranges of activation_ranges to the ONNX tensors of each Conv: its input,
    and its output under the name qdq gives the Conv's own output (name + "_f"); and with the stream
    ranges, to each residual block's scale, shift, product and first sum."""
    ranges, names = {}, stored(model)
    for node in model.graph.node:
        if node.op_type == "Conv":
            module = names[node.input[1]].rsplit(".", 1)[0]
            ranges[node.input[0]] = stats[(module, "in")]
            ranges[node.output[0] + "_f"] = stats[(module, "out")]
    for name, b in residual_blocks(model).items():
        if (name, "mid") in stats:
            ranges[b["scale"]], ranges[b["shift"]] = stats[(name, "scale")], stats[(name, "shift")]
            ranges[b["mul"].output[0]], ranges[b["add1"].output[0]] = stats[(name, "prod")], stats[(name, "mid")]
    return ranges


def uint8_params(lo, hi):
    """uint8_params returns (scale, zero point) of the uint8 grid covering [lo, hi] and 0."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    return np.float32(scale), np.uint8(np.clip(round(-lo / scale), 0, 255))


HEAD_OFFSET = 128 / 255  # the head's input offset in an int8 model: (k - 128) / 255 is on a uint8 grid


def exact_head_input(model, names, ranges):
    """exact_head_input makes the head Conv's input exact on a uint8 grid and returns {bias initializer
    name: the float array to quantize instead}, or {} where the graph is not image - 0.5 -> pixel
    unshuffle -> head Conv.

    The network sees image - 0.5 (image = k/255): (k - 127.5)/255 falls halfway between uint8 steps of
    1/255 at any zero point, so every input pixel would round by half a step. Subtracting 128/255
    instead puts it on the grid (scale 1/255, zero point 128), and the head's bias absorbs the
    difference: b + (128/255 - 0.5) * sum(W). Exact but at the border, where the zero padding of the
    shifted input now stands for -0.5 - 1/510 instead of -0.5: the border pixels' head outputs move by
    at most 1/510 times the padded taps' weights, well under the int8 rounding around them."""
    producer = {o: n for n in model.graph.node for o in n.output}
    head = next((n for n in model.graph.node if n.op_type == "Conv" and names[n.input[1]] == "head.weight"), None)
    if head is None:
        return {}
    node = producer.get(head.input[0])
    while node is not None and node.op_type in ("Reshape", "Transpose", "Squeeze", "Unsqueeze", "SpaceToDepth"):
        node = producer.get(node.input[0])
    if node is None or node.op_type != "Sub" or node.input[0] != model.graph.input[0].name:
        return {}
    const = producer.get(node.input[1])
    if const is None or const.op_type != "Constant" or not np.allclose(numpy_helper.to_array(const.attribute[0].t), 0.5):
        return {}
    const.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array(HEAD_OFFSET, np.float32), const.attribute[0].t.name))
    inits = {i.name: i for i in model.graph.initializer}
    weight = numpy_helper.to_array(inits[names[head.input[1]]]).astype(np.float32)
    bias = numpy_helper.to_array(inits[names[head.input[2]]]).astype(np.float32)
    ranges[head.input[0]] = [-HEAD_OFFSET, 1 - HEAD_OFFSET]
    return {names[head.input[2]]: bias + (HEAD_OFFSET - 0.5) * weight.sum(axis=(1, 2, 3))}


def stream_nodes(model, ranges, keep_float=()):
    """stream_nodes returns the names of the nodes that carry the residual stream between convolutions:
    each residual block's Mul and two Adds (residual_blocks) and each skip connection's Add (the
    up-sampling's DepthToSpace + the encoder's output), but those of the blocks whose name, or of the
    skips whose up-sampling's name ("up.0"), starts with one of keep_float. It sets the range of a
    DepthToSpace output to its input's, the up-sampling Conv's output: the same values, so
    requantizing them is exact."""
    producer = {o: n for n in model.graph.node for o in n.output}
    outputs, names = {o.name for o in model.graph.output}, stored(model)

    def kept(module):
        return any(module.startswith(p) for p in keep_float)

    on = {b[k].name for name, b in residual_blocks(model).items() if not kept(name) for k in ("mul", "add1", "add2")}
    for n in model.graph.node:
        shuffles = [producer[i] for i in n.input if i in producer and producer[i].op_type == "DepthToSpace"]
        if n.op_type != "Add" or not shuffles or n.output[0] in outputs:
            continue
        up = producer.get(shuffles[0].input[0])
        if up is None or up.op_type != "Conv" or kept(names[up.input[1]].rsplit(".", 2)[0]):
            continue
        on.add(n.name)
        for d in shuffles:
            ranges[d.output[0]] = ranges[d.input[0] + "_f"]
    if "" in on:
        raise ValueError("the export left a stream node without a name")
    return on


def qdq(model, ranges, keep_float=(), stream=False, stream_float=()):
    """qdq returns a copy of model with every Conv (but those whose weight name starts with one of
    keep_float) in QDQ form: DequantizeLinear of int8 per-channel weights and int32 bias, and a
    QuantizeLinear/DequantizeLinear pair on the input and on the output, with ranges[tensor]. A
    quantized head gets an exact input (exact_head_input).

    With stream, the residual stream between the convolutions is on the uint8 grid too: every input
    of the stream's products and sums (stream_nodes) is a DequantizeLinear output, a quantized
    tensor's where one exists (a block's input x is its first Conv's quantized input), and their
    outputs are quantized, so that ONNX Runtime runs them as QLinearMul/QLinearAdd on uint8 NHWC
    data instead of float passes (it needs ranges of the block terms: activation_ranges(stream=True)).
    The blocks and skips named by stream_float (stream_nodes) keep a float stream."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    inits, names = {i.name: i for i in g.initializer}, stored(model)
    nodes, new_inits, act = [], [], {}
    ranges = dict(ranges)
    biases = {} if any("head.".startswith(p) for p in keep_float) else exact_head_input(model, names, ranges)
    on_stream, conv_out = stream_nodes(model, ranges, stream_float) if stream else set(), set()

    def const(name, array):
        new_inits.append(numpy_helper.from_array(array, name))
        return name

    def quantized_pair(tensor, tag):
        scale, zero = uint8_params(*ranges[tensor])
        s, z = const(tag + "_scale", np.array(scale)), const(tag + "_zero", np.array(zero))
        nodes.append(helper.make_node("QuantizeLinear", [tensor, s, z], [tag + "_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [tag + "_q", s, z], [tag + "_dq"]))
        return tag + "_dq", scale

    for n in g.node:
        if n.name in on_stream:
            for i, t in enumerate(n.input):
                if t in conv_out:  # already the output of a DequantizeLinear (through an Identity)
                    continue
                if t not in act:
                    act[t] = quantized_pair(t, f"stream{len(act)}")
                n.input[i] = act[t][0]
        if n.op_type != "Conv" or any(names[n.input[1]].startswith(p) for p in keep_float):
            nodes.append(n)
            continue
        x, w = n.input[0], names[n.input[1]]
        if x not in act:
            act[x] = quantized_pair(x, f"act{len(act)}")
        x_dq, x_scale = act[x]
        weight = numpy_helper.to_array(inits[w]).astype(np.float32)
        w_scale = (np.maximum(np.abs(weight).reshape(len(weight), -1).max(1), 1e-8) / 127).astype(np.float32)
        w_int = np.clip(np.round(weight / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
        nodes.append(helper.make_node("DequantizeLinear", [const(w + "_int8", w_int), const(w + "_scale", w_scale),
                                                           const(w + "_zero", np.zeros(len(weight), np.int8))],
                                      [w + "_dq"], axis=0))
        inputs = [x_dq, w + "_dq"]
        if len(n.input) > 2 and n.input[2]:
            b = names[n.input[2]]
            b_scale = (x_scale * w_scale).astype(np.float32)
            bias = biases[b] if b in biases else numpy_helper.to_array(inits[b]).astype(np.float32)
            b_int = np.round(bias / b_scale).astype(np.int32)
            nodes.append(helper.make_node("DequantizeLinear", [const(b + "_int32", b_int), const(b + "_scale", b_scale),
                                                               const(b + "_zero", np.zeros(len(weight), np.int32))],
                                          [b + "_dq"], axis=0))
            inputs.append(b + "_dq")
        y = n.output[0]
        conv = helper.make_node("Conv", inputs, [y + "_f"], name=n.name)
        conv.attribute.extend(n.attribute)
        nodes.append(conv)
        y_dq, _ = quantized_pair(y + "_f", f"out{len(nodes)}")
        nodes.append(helper.make_node("Identity", [y_dq], [y]))
        conv_out.add(y)
    used = {i for node in nodes for i in node.input}
    nodes = [n for n in nodes if n.op_type != "Cast" or n.output[0] in used]  # casts of weights now int8
    used = {i for node in nodes for i in node.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    onnx.checker.check_model(model)
    return model


def calibration_batches(crops, seed=1, size=256, root="../shared/data/train"):
    """calibration_batches yields `crops` (image [1,3,size,size], qtable [1,128]) pairs: random crops of
    the training photos, degraded as in training."""
    from PIL import Image

    from training.data.degrade import degrade
    files = sorted(glob.glob(f"{root}/photos*/*.jpg") + glob.glob(f"{root}/photos*/*.png"))
    if not files:
        raise SystemExit(f"no training photos under {root}/photos*")
    rng = np.random.default_rng(seed)
    made = 0
    while made < crops:
        img = np.asarray(Image.open(files[rng.integers(len(files))]).convert("RGB"))
        if min(img.shape[:2]) < size:
            continue
        y, x = rng.integers(img.shape[0] - size + 1), rng.integers(img.shape[1] - size + 1)
        degraded, qtable = degrade(img[y:y + size, x:x + size], rng=rng)
        made += 1
        yield (torch.from_numpy(np.array(degraded)).permute(2, 0, 1)[None].float() / 255,
               torch.from_numpy(np.asarray(qtable, np.float32))[None])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-opt", required=True, help="the model's options (its arch)")
    ap.add_argument("--model", required=True, help="the float model, e.g. models/fast-float.onnx (its manifest beside it)")
    ap.add_argument("--out", required=True, help="the int8 model to write, e.g. .train/int8/fast-int8.onnx")
    ap.add_argument("--crops", type=int, default=64)
    ap.add_argument("--keep-float", default="", help="comma-separated weight-name prefixes of Convs to leave float")
    ap.add_argument("--percentile", type=float, default=100.0, help="activation range: 100 the whole range, 99.99 clips the tails")
    ap.add_argument("--stream", action="store_true",
                    help="quantize the residual stream too (the blocks' FiLM products and sums, the skip sums)")
    ap.add_argument("--stream-float", default="",
                    help="with --stream: comma-separated name prefixes of blocks (enc.0.) and skips (up.0) whose stream stays float")
    ap.add_argument("--from-options", action="store_true",
                    help="the calibration of the options' int8 section (percentile, crops, keep_float, stream, "
                    "stream_float: the shipped one, which train.py --qat trains through) instead of the flags")
    ap.add_argument("--name", default="", help="the int8 model's name in its manifest (default: the float one's + \"-int8\")")
    a = ap.parse_args()
    opt = load_options(a.opt)
    if a.from_options:
        if not opt.get("int8"):
            raise SystemExit(f"--from-options: {a.opt} has no int8 section")
        c = opt["int8"]
        a.percentile, a.crops, a.stream = float(c.get("percentile", 100.0)), int(c.get("crops", 64)), bool(c.get("stream"))
        a.keep_float, a.stream_float = ",".join(c.get("keep_float", ())), ",".join(c.get("stream_float", ()))
    net = build_arch(opt["network_g"]).eval()
    result = net.load_state_dict(load_weights(a.model), strict=False)
    if result.missing_keys:
        raise SystemExit(f"{a.model} lacks {result.missing_keys}: not the arch of {a.opt}")
    stats = activation_ranges(net, calibration_batches(a.crops), a.percentile, stream=a.stream)
    # The graph is today's export of the float model's weights, not the float file's own graph: an
    # older export lacks the graph changes that let ONNX Runtime keep int8 activations in NHWC
    # (qunet_arch.FiLMResBlock), and the weights, the only thing taken from the file, are the same.
    with tempfile.TemporaryDirectory() as tmp:
        export(net, pathlib.Path(tmp) / "float.onnx")
        model = onnx.load(str(pathlib.Path(tmp) / "float.onnx"))
    out = pathlib.Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    keep = [p for p in a.keep_float.split(",") if p]
    stream_float = [p for p in a.stream_float.split(",") if p]
    if stream_float and not a.stream:
        raise SystemExit("--stream-float needs --stream")
    onnx.save(qdq(model, tensor_ranges(model, stats), keep, a.stream, stream_float), str(out))
    manifest = json.loads(pathlib.Path(a.model).with_suffix(".json").read_text())
    manifest.update(name=a.name or manifest["name"] + "-int8", file=out.name,
                    sha256=hashlib.sha256(out.read_bytes()).hexdigest(), weights="int8-qdq",
                    quantization={"from": manifest["name"], "from_sha256": manifest["sha256"], "crops": a.crops,
                                  "percentile": a.percentile, "keep_float": keep, "stream": a.stream})
    if a.stream:
        manifest["quantization"]["stream_float"] = stream_float
    manifest.pop("psnr", None)
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')} ({a.crops} calibration crops, percentile {a.percentile})")


if __name__ == "__main__":
    main()
