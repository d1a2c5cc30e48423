"""Export test: ONNX checker, dynamic axes, I/O names, manifest fields and sha256, parity fixture."""
import hashlib
import json

import onnx
import torch

from training.archs import build_arch
from training.export_onnx import receptive_field, write_all

OPT = {"name": "tiny", "version": 3,
       "network_g": {"type": "QUNet", "channels": [8, 12, 16], "enc_blocks": [1, 1], "mid_blocks": 1,
                     "dec_blocks": [1, 1], "emb_ch": 16},
       "manifest": {"trained_qf": [10, 95]}}


def test_export_manifest_parity(tmp_path):
    torch.manual_seed(0)
    net = build_arch(OPT["network_g"]).eval()
    ev = tmp_path / "eval.json"
    ev.write_text(json.dumps({"table": {"average": {"gain": 1.0}}}))
    out = tmp_path / "tiny.onnx"
    m = write_all(net, OPT, out, eval_json=ev)

    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    ins = {i.name: i for i in model.graph.input}
    assert set(ins) == {"image", "qtable"}
    assert [o.name for o in model.graph.output] == ["restored"]
    dims = [d.dim_param for d in ins["image"].type.tensor_type.shape.dim]
    assert dims[0] and dims[2] and dims[3] and not dims[1]
    assert ins["qtable"].type.tensor_type.shape.dim[1].dim_value == 128
    out_dims = [d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims[0] and out_dims[2] and out_dims[3]

    manifest = json.loads((tmp_path / "tiny.json").read_text())
    assert manifest == m
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    for k, v in {"name": "tiny", "version": "3", "file": "tiny.onnx", "output": "restored",
                 "conditioning": "qtable", "pad_multiple": 16, "trained_qf": [10, 95]}.items():
        assert manifest[k] == v
    assert manifest["inputs"] == {"image": "image", "qtable": "qtable"}
    assert manifest["params"] == sum(p.numel() for p in net.parameters())
    assert manifest["psnr"]["table"]["average"]["gain"] == 1.0
    assert manifest["receptive_field"] % 16 == 0 and 16 < manifest["receptive_field"] < 512

    parity = json.loads((tmp_path / "tiny.parity.json").read_text())
    image = torch.tensor(parity["image"]).reshape(parity["image_shape"])
    qtable = torch.tensor(parity["qtable"]).reshape(parity["qtable_shape"])
    with torch.no_grad():
        want = net(image, qtable).flatten()
    assert torch.allclose(torch.tensor(parity["restored"]), want, atol=1e-6)
    assert len(parity["restored"]) == 3 * 48 * 64


def test_rep_net_exports_as_the_res_graph(tmp_path):
    rep = dict(OPT, network_g=dict(OPT["network_g"], block="rep"))
    torch.manual_seed(0)
    net = build_arch(rep["network_g"]).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    x, q = torch.rand(1, 3, 48, 64), torch.rand(1, 128)
    with torch.no_grad():
        want = net(x, q)
    write_all(net, rep, tmp_path / "rep.onnx")
    write_all(build_arch(OPT["network_g"]).eval(), OPT, tmp_path / "res.onnx")
    convs = [sum(n.op_type == "Conv" for n in onnx.load(str(tmp_path / f"{k}.onnx")).graph.node) for k in ("rep", "res")]
    assert convs[0] == convs[1]
    with torch.no_grad():
        assert torch.allclose(net(x, q), want, atol=1e-5)


def test_receptive_field_grows_with_depth():
    torch.manual_seed(0)
    shallow = build_arch({"type": "QUNet", "channels": [8, 8], "enc_blocks": [0], "mid_blocks": 0,
                          "dec_blocks": [0]})
    # head 3x3 and tail 3x3 at 1/2 resolution plus down/up: a few blocks of 2 pixels.
    assert receptive_field(shallow) <= 32
    assert receptive_field(build_arch(OPT["network_g"])) > receptive_field(shallow)


def test_float16_weights_half_the_file_same_values(tmp_path):
    from onnx import TensorProto

    from training.models.grow import load_weights
    from training.models.jpeg_model import load_eval_net
    torch.manual_seed(0)
    net = build_arch(OPT["network_g"])
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"step": 1, "options": OPT, "net_ema": net.state_dict()}, ckpt)
    opt16 = dict(OPT, manifest={"trained_qf": [10, 95], "weights": "float16"})
    net32, _ = load_eval_net(ckpt, OPT)
    net16, _ = load_eval_net(ckpt, opt16)
    for a, b in zip(net32.parameters(), net16.parameters()):
        assert torch.equal(b, a.half().float())
    assert any(not torch.equal(a, b) for a, b in zip(net32.parameters(), net16.parameters()))

    m32 = write_all(net16, OPT, tmp_path / "a.onnx")
    m16 = write_all(net16, opt16, tmp_path / "b.onnx")
    assert m32["weights"] == "float32" and m16["weights"] == "float16"
    size32, size16 = (tmp_path / "a.onnx").stat().st_size, (tmp_path / "b.onnx").stat().st_size
    assert size16 < 0.7 * size32  # tiny net: names and nodes are a third of the file; best.onnx halves
    model = onnx.load(str(tmp_path / "b.onnx"))
    floats = [i for i in model.graph.initializer if i.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)]
    assert floats and all(i.data_type == TensorProto.FLOAT16 for i in floats)
    casts = [n for n in model.graph.node if n.op_type == "Cast"]
    assert len(casts) == len(floats)
    # the same weights come back under their own names, and the same parity fixture
    for k, v in load_weights(tmp_path / "b.onnx").items():
        assert torch.equal(v, net16.state_dict()[k])
    assert (tmp_path / "a.parity.json").read_text() == (tmp_path / "b.parity.json").read_text()
    # weights that are not float16 values are refused, not silently rounded
    import pytest
    with pytest.raises(ValueError):
        write_all(net32, opt16, tmp_path / "c.onnx")
