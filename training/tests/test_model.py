"""Model test from inline YAML (the shape of BasicSR's tests/test_models/test_sr_model.py):
two train steps on tiny data, save, resume, and the time-budgeted train.run entry point."""
import numpy as np
import pytest
import torch
from PIL import Image

from training.data.jpeg_dataset import JPEGDataset
from training.models.jpeg_model import JPEGModel, load_eval_net
from training.train import run
from training.utils.options import load_options

OPTIONS = """
name: tiny
version: 1
seed: 0
network_g:
  type: QUNet
  channels: [8, 12, 16]
  enc_blocks: [1, 1]
  mid_blocks: 1
  dec_blocks: [1, 1]
  emb_ch: 16
datasets:
  data_root: DATA
  train:
    folders: [train/a]
    crop: 32
    batch_size: 2
    degrade: {double_prob: 0.5, p444: 0.5}
  val:
    folder: val/k
    qfs: [10]
train:
  loss: charbonnier
  lr: 1.0e-3
  warmup_steps: 1
  total_steps: 4
  ema_decay: 0.9
  bf16: BF16
  grad_clip: 1.0
logger: {print_every: 1, save_every_min: 10, val_every_min: 10}
"""


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    for sub, n in (("train/a", 3), ("val/k", 1)):
        d = tmp_path / sub
        d.mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
            Image.fromarray(img).save(d / f"im{i}.png")
    return tmp_path


def options(data, bf16=False):
    return load_options(OPTIONS.replace("DATA", str(data)).replace("BF16", str(bf16).lower()))


def dataset(opt, data):
    d = dict(opt["datasets"]["train"])
    d["folders"] = [str(data / f) for f in d["folders"]]
    return JPEGDataset(d)


@pytest.mark.parametrize("bf16", [False, True])
def test_two_steps_save_resume(data, tmp_path, bf16):
    opt = options(data, bf16)
    ds = dataset(opt, data)
    batch = ds.batch(2)
    assert batch["lq"].shape == (2, 3, 32, 32) and batch["qtable"].shape == (2, 128)
    model = JPEGModel(opt)
    losses = [float(model.train_step(batch)) for _ in range(2)]
    assert all(np.isfinite(losses))
    assert model.step == 2
    ckpt = tmp_path / "latest.pt"
    model.save(ckpt)
    again = JPEGModel(opt)
    state = again.load(ckpt)
    assert again.step == 2 and state["options"]["name"] == "tiny"
    for a, b in zip(model.net.state_dict().values(), again.net.state_dict().values()):
        assert torch.equal(a, b)
    assert again.optimizer.state_dict()["state"].keys() == model.optimizer.state_dict()["state"].keys()
    again.train_step(batch)
    assert again.step == 3
    net, _ = load_eval_net(ckpt)
    assert not net.training


def test_uint8_batches_train_like_float_ones(data):
    opt = options(data)
    batch = dataset(opt, data).batch(2)
    assert batch["lq"].dtype == torch.uint8 and batch["gt"].dtype == torch.uint8
    as_float = {k: (v.float() / 255.0 if v.dtype == torch.uint8 else v) for k, v in batch.items()}
    torch.manual_seed(0)
    a = JPEGModel(opt)
    torch.manual_seed(0)
    b = JPEGModel(opt)
    assert float(a.train_step(batch)) == float(b.train_step(as_float))


def test_options_not_modified(data):
    opt = options(data)
    before = repr(opt)
    JPEGModel(opt)
    assert repr(opt) == before


def test_lr_schedule():
    opt = {"network_g": {"type": "QUNet", "channels": [8, 8], "enc_blocks": [1], "mid_blocks": 1,
                         "dec_blocks": [1]},
           "train": {"lr": 1.0, "warmup_steps": 10, "total_steps": 110, "eta_min_ratio": 0.0}}
    m = JPEGModel(opt)
    assert m.lr_at(0) == pytest.approx(0.1)
    assert m.lr_at(10) == pytest.approx(1.0)
    assert m.lr_at(60) == pytest.approx(0.5)
    assert m.lr_at(110) == pytest.approx(0.0, abs=1e-9)
    assert m.lr_at(50, progress=0.5) == pytest.approx(0.5)


def test_run_and_resume(data, tmp_path):
    opt = options(data)
    out = tmp_path / "run"
    run(opt, max_steps=2, out_dir=out, threads=2)
    assert (out / "latest.pt").exists()
    log = (out / "train.log").read_text()
    assert "step 2 loss" in log and "val step 2" in log
    model = run(opt, max_steps=3, out_dir=out, resume=out / "latest.pt")
    assert model.step == 3


def test_run_with_workers_past_an_epoch(data, tmp_path):
    # A DataLoader epoch is length / batch_size batches; training must go on into the next one.
    opt = options(data)
    opt["datasets"]["train"].update(num_workers=1, length=4)
    model = run(opt, max_steps=5, out_dir=tmp_path / "run", threads=1, slim=True)
    assert model.step == 5


def test_dataset_packed(data, tmp_path):
    from training.tools.pack_data import pack
    n = pack([data / "train/a"], tmp_path / "crops.npz", 32, max_mb=1)
    assert n == 3 * 2  # 48x64 images hold one row of two 32x32 crops
    ds = JPEGDataset({"packed": str(tmp_path / "crops.npz"), "crop": 32})
    assert ds.batch(3)["gt"].shape == (3, 3, 32, 32)


def test_dataset_packed_whole(data, tmp_path):
    from training.data.jpeg_dataset import list_images, load_packed, load_rgb
    from training.tools.pack_data import NPZ_HEADROOM, pack_whole
    files = list_images([data / "train/a"])
    n, mp = pack_whole([data / "train/a"], tmp_path / "files.npz", max_mb=1)
    assert n == 3 and mp == pytest.approx(3 * 48 * 64 / 1e6)
    got = sorted(im.tobytes() for im in load_packed(tmp_path / "files.npz"))
    assert got == sorted(load_rgb(f).tobytes() for f in files)  # byte for byte: the sources' pixels
    one = files[0].stat().st_size
    n, _ = pack_whole([data / "train/a"], tmp_path / "one.npz", max_mb=(one + NPZ_HEADROOM + 1) / 1e6)
    assert n == 1  # files that would pass the limit are skipped
    from training.data.jpeg_dataset import packed_blobs as packed_files
    rest, _ = pack_whole([data / "train/a"], tmp_path / "rest.npz", max_mb=1,
                         exclude=packed_files(tmp_path / "one.npz"))
    assert rest == 2 and not set(packed_files(tmp_path / "rest.npz")) & set(packed_files(tmp_path / "one.npz"))
    ds = JPEGDataset({"packed": str(tmp_path / "files.npz"), "crop": 32})
    assert ds.batch(2)["gt"].shape == (2, 3, 32, 32)
    # several packs (one per GPU call) train on the union of their files
    two = JPEGDataset({"packed": [str(tmp_path / "one.npz"), str(tmp_path / "rest.npz")], "crop": 32})
    assert sorted(im.tobytes() for im in two.images) == got


def test_slim_checkpoint(data, tmp_path):
    opt = options(data)
    model = JPEGModel(opt)
    model.train_step(dataset(opt, data).batch(2))
    full, slim = tmp_path / "full.pt", tmp_path / "slim.pt"
    model.save(full)
    model.save(slim, slim=True)
    assert slim.stat().st_size < full.stat().st_size / 2
    a, _ = load_eval_net(full)
    b, _ = load_eval_net(slim)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    with pytest.raises(ValueError, match="slim"):
        JPEGModel(opt).load(slim)
    tuned = JPEGModel(opt)
    tuned.init_from(slim)  # fine-tuning starts from the EMA weights, at step 0
    assert tuned.step == 0
    for x, y in zip(b.state_dict().values(), tuned.net.state_dict().values()):
        assert torch.equal(x, y)


def test_dataset_refuses_val(tmp_path):
    d = tmp_path / "val" / "kodak"
    d.mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(d / "a.png")
    with pytest.raises(ValueError):
        JPEGDataset({"folders": [str(d)], "crop": 32})


def test_qat_steps_train_through_the_int8_rounding(data):
    # calibrated on two crops of the real training photos (../shared/data/train/photos*), as train.py --qat does
    opt = options(data, bf16=True)
    batch = dataset(opt, data).batch(2)
    model = JPEGModel(opt)
    with torch.no_grad():  # a FiLM not at its zero start, so that the qtable embedding gets gradients too
        for name, p in model.net.named_parameters():
            if "film" in name:
                p.normal_(0, 0.2)
    model.enable_qat({"percentile": 99.9, "crops": 2, "keep_float": ["tail."], "stream": True,
                      "stream_float": ["enc.0."]})
    lq, qt = batch["lq"].float() / 255, batch["qtable"]
    with torch.no_grad():
        assert not torch.equal(model.qat(lq, qt), model.net(lq, qt))
    before = [p.detach().clone() for p in model.net.parameters()]
    assert np.isfinite(float(model.train_step(batch)))
    same = [n for a, (n, p) in zip(before, model.net.named_parameters()) if torch.equal(a, p)]
    assert not same, same
