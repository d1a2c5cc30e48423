"""compare_blocks: every candidate builds, keeps fast's recipe but for the network and the held-out folder."""
import torch

from training.archs import build_arch
from training.tools import compare_blocks as cb
from training.utils.options import TRAINING_DIR, load_options


def test_candidates_differ_from_fast_only_in_network_and_folders():
    fast = load_options(TRAINING_DIR / "options" / "fast.yml")
    for name in cb.CANDIDATES:
        opt = cb.options(name)
        assert opt["name"] == f"blocks-{name}"
        assert cb.HELD_OUT not in opt["datasets"]["train"]["folders"]
        assert set(opt["datasets"]["train"]["folders"]) <= set(fast["datasets"]["train"]["folders"]) | {cb.HELD_OUT}
        assert opt["train"] == fast["train"]
        assert opt["datasets"]["train"]["crop"] == fast["datasets"]["train"]["crop"]
    assert cb.options("res")["network_g"] == fast["network_g"]


def test_candidates_build_and_restore_shapes():
    for name, arch in cb.CANDIDATES.items():
        torch.manual_seed(0)
        net = build_arch(arch).eval()
        x = torch.rand(1, 3, 32, 48)
        with torch.no_grad():
            assert net(x, torch.rand(1, 128)).shape == x.shape, name
