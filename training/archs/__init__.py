"""Network architectures, selected by name from the options (`network_g: {type: ...}`).

Each `*_arch.py` module in this package registers its nn.Module classes with
`@ARCH_REGISTRY.register()`; importing this package imports all of them.
"""
import copy
import importlib
import pathlib

from training.utils.registry import Registry

ARCH_REGISTRY = Registry("arch")

for _path in sorted(pathlib.Path(__file__).parent.glob("*_arch.py")):
    importlib.import_module(f"training.archs.{_path.stem}")


def build_arch(opt):
    """build_arch returns the network described by `opt` (a dict with `type` plus constructor kwargs).

    `opt` is deep-copied, so the caller's options are never modified.
    """
    opt = copy.deepcopy(dict(opt))
    return ARCH_REGISTRY.get(opt.pop("type"))(**opt)
