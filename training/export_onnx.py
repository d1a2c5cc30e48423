"""Export a checkpoint to ONNX with its manifest and a parity fixture:
python3 training/export_onnx.py -opt training/options/fast.yml --ckpt .train/fast/latest.pt
--out models/fast-float.onnx --name fast-float [--eval result.json] [--overlap N --overlap-max-diff D].

Writes <out> (opset 17, falling back to 13; dynamic N/H/W; inputs `image` [N,3,H,W] and `qtable`
[N,128], output `restored`), the manifest <stem>.json that inference/ reads, and <stem>.parity.json:
a seeded 1x3x48x64 input, its qtable and PyTorch's output, for the Go ONNX-vs-PyTorch parity test
(tolerance 1e-4).
"""
import argparse
import hashlib
import json
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from training.archs.qunet_arch import fuse_rep  # noqa: E402
from training.data.degrade import ijg_tables  # noqa: E402
from training.models.jpeg_model import load_eval_net  # noqa: E402
from training.utils.options import load_options  # noqa: E402

MANIFEST_VERSION = 1
PAD_MULTIPLE = 16
PARITY_SHAPE = (1, 3, 48, 64)
PARITY_QF = 30
PARITY_TOLERANCE = 1e-4


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def qtable_vector(qf):
    """qtable_vector is the [128] float32 conditioning vector of IJG quality qf."""
    luma, chroma = ijg_tables(qf)
    return np.asarray(luma + chroma, dtype=np.float32) / 255.0


def receptive_field(net, size=256, phases=(0, 3, 6, 9, 12, 15), thin=64):
    """receptive_field measures the full width in pixels of the region that influences one output pixel.

    It back-propagates one output pixel (all channels, float64) to the input and takes the extent of the
    non-zero gradient along one axis, on a thin strip (size x `thin`, then `thin` x size: the kernels are
    square, so the strip keeps every path along the long axis), at several positions relative to
    the 16-pixel grid. The widest extent is rounded up to a multiple of 16. The strip grows until the
    region no longer touches its ends.
    """
    net = net.double().eval()
    q = torch.from_numpy(qtable_vector(PARITY_QF)).double()[None]
    gen = torch.Generator().manual_seed(0)
    try:
        while True:
            widest, touches = 0, False
            for axis in (2, 3):
                # One batch item per phase: items do not interact, so one backward pass serves all.
                shape = [len(phases), 3, thin, thin]
                shape[axis] = size
                x = torch.rand(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
                y = net(x, q.expand(len(phases), -1))
                total = 0
                for i, ph in enumerate(phases):
                    c = size // 2 - size // 2 % 16 + ph
                    pos = [thin // 2, thin // 2]
                    pos[axis - 2] = c
                    total = total + y[i, :, pos[0], pos[1]].sum()
                total.backward()
                for i in range(len(phases)):
                    g = x.grad[i].abs().sum(0).sum(3 - axis)
                    nz = g.nonzero().flatten()
                    lo, hi = int(nz.min()), int(nz.max())
                    touches |= lo == 0 or hi == size - 1
                    widest = max(widest, hi - lo + 1)
            if not touches:
                break
            size *= 2
    finally:
        net.float()
    return int(math.ceil(widest / PAD_MULTIPLE) * PAD_MULTIPLE)


def export(net, out, opset=17):
    """export writes `net` to ONNX at `out`; returns the opset used (17, or 13 if 17 fails)."""
    net = net.float().eval()
    image = torch.rand(1, 3, 64, 96)
    qtable = torch.from_numpy(qtable_vector(50))[None]
    dyn = {"image": {0: "N", 2: "H", 3: "W"}, "qtable": {0: "N"}, "restored": {0: "N", 2: "H", 3: "W"}}
    last = None
    for ops in (opset, 13):
        try:
            torch.onnx.export(net, (image, qtable), str(out), opset_version=ops, input_names=["image", "qtable"],
                              output_names=["restored"], dynamic_axes=dyn, do_constant_folding=True)
        except Exception as e:  # noqa: BLE001 - any exporter failure falls back to the older opset
            last = e
            continue
        import onnx
        onnx.checker.check_model(onnx.load(str(out)), full_check=True)
        return ops
    raise RuntimeError(f"ONNX export failed: {last}")


def store_float16(path):
    """store_float16 rewrites the ONNX model at `path` so that each float32 initializer is stored as
    float16 and read through a Cast to float32: half the file, the same float32 graph once ONNX Runtime
    has folded the casts at load. The initializers keep their names (grow.load_weights reads them);
    each must already hold float16 values (load_eval_net rounds them), so nothing changes but the size."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    model = onnx.load(str(path))
    g = model.graph
    casts, renamed = [], {}
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        w = numpy_helper.to_array(init)
        half = w.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), w):
            raise ValueError(f"initializer {init.name} holds values that are not float16: round the weights first")
        init.CopyFrom(numpy_helper.from_array(half, init.name))
        renamed[init.name] = f"{init.name}_f32"
        casts.append(helper.make_node("Cast", [init.name], [renamed[init.name]], to=TensorProto.FLOAT,
                                      name=f"{init.name}_cast"))
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


@torch.no_grad()
def parity_fixture(net):
    """parity_fixture returns a seeded input, qtable and PyTorch's float32 output as a JSON-able dict."""
    net = net.float().eval()
    gen = torch.Generator().manual_seed(1234)
    image = torch.rand(*PARITY_SHAPE, generator=gen)
    qtable = torch.from_numpy(qtable_vector(PARITY_QF))[None]
    restored = net(image, qtable)
    return {"seed": 1234, "qf": PARITY_QF, "tolerance": PARITY_TOLERANCE,
            "image_shape": list(PARITY_SHAPE), "qtable_shape": [1, 128],
            "image": image.flatten().tolist(), "qtable": qtable.flatten().tolist(),
            "restored": restored.flatten().tolist()}


def write_all(net, opt, out, eval_json=None, overlap=0, overlap_max_diff=0.0, name=None):
    """write_all exports net to `out` and writes the manifest and parity fixture beside it; returns the manifest.
    A net of "rep" blocks is fused first (in place), so it exports as the plain network it equals.
    The manifest's name is `name`, else the options' (best's float export is named best-float: the preset
    best is its int8 copy, scripts/ship_int8.sh)."""
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if opt["network_g"].get("block") == "rep":
        fuse_rep(net)  # the same function as one 3x3 convolution per RepConv3x3: the "res" graph
    opset = export(net, out)
    weights = (opt.get("manifest") or {}).get("weights", "float32")
    if weights == "float16":
        store_float16(out)
    psnr = None
    if eval_json:
        with open(eval_json) as f:
            psnr = json.load(f)
    manifest = {
        "name": name or opt["name"],
        "version": str(opt.get("version", 1)),
        "file": out.name,
        "sha256": sha256_file(out),
        "opset": opset,
        "dtype": "float32",
        "weights": weights,
        "layout": "NCHW",
        "range": [0.0, 1.0],
        "inputs": {"image": "image", "qtable": "qtable"},
        "output": "restored",
        "conditioning": "qtable",
        "pad_multiple": PAD_MULTIPLE,
        "receptive_field": receptive_field(net),
        # Measured on the Go side (go test -run TestMeasureOverlap ./gpuworker): the tile overlap
        # at which tiled output matches whole-image output to within overlap_max_diff.
        "overlap": int(overlap),
        "overlap_max_diff": float(overlap_max_diff),
        "trained_qf": list(opt.get("manifest", {}).get("trained_qf", [10, 95])),
        "params": int(sum(p.numel() for p in net.parameters())),
        "arch": opt["network_g"]["type"],
        "psnr": psnr,
    }
    with open(out.with_suffix(".json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    with open(out.with_suffix(".parity.json"), "w") as f:
        json.dump(parity_fixture(net), f)
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-opt", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True, help="e.g. models/fast-float.onnx")
    ap.add_argument("--eval", default=None, help="test.py JSON to embed as the manifest's psnr")
    ap.add_argument("--overlap", type=int, default=0, help="measured tile overlap (multiple of 16); 0: receptive field")
    ap.add_argument("--overlap-max-diff", type=float, default=0.0, help="tiled-vs-whole difference measured at --overlap")
    ap.add_argument("--name", default=None, help="the manifest's name (default: the options' name)")
    a = ap.parse_args()
    opt = load_options(a.opt)
    net, _ = load_eval_net(a.ckpt, opt)
    m = write_all(net, opt, a.out, a.eval, a.overlap, a.overlap_max_diff, a.name)
    print(json.dumps({k: v for k, v in m.items() if k != "psnr"}, indent=2))


if __name__ == "__main__":
    main()
