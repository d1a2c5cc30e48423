import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture
def tiny_arch():
    """A QUNet small enough for tests on the CPU."""
    return {"type": "QUNet", "channels": [8, 12, 16], "enc_blocks": [1, 1], "mid_blocks": 1,
            "dec_blocks": [1, 1], "emb_ch": 16}


@pytest.fixture
def make_ckpt(tiny_arch):
    """make_ckpt(path, seed, arch=tiny_arch) saves a slim checkpoint of a seeded net and returns its weights."""
    from training.archs import build_arch

    def make(path, seed, arch=None):
        arch = arch or tiny_arch
        torch.manual_seed(seed)
        net = build_arch(arch)
        torch.save({"step": seed, "options": {"name": "t", "network_g": arch}, "net_ema": net.state_dict()}, path)
        return net.state_dict()
    return make
