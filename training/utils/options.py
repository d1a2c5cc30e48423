"""Options: YAML experiment files (BasicSR style) with paths resolved against the repository root."""
import copy
import pathlib

import yaml

TRAINING_DIR = pathlib.Path(__file__).resolve().parents[1]
REPO_ROOT = TRAINING_DIR.parent


def resolve_opt_path(path):
    """resolve_opt_path finds an options file given relative to the cwd, the repo root or training/."""
    p = pathlib.Path(path)
    for cand in (p, REPO_ROOT / p, TRAINING_DIR / p):
        if cand.is_file():
            return cand
    raise FileNotFoundError(path)


def repo_path(path):
    """repo_path makes a path from the options absolute: relative paths are relative to the repo root."""
    p = pathlib.Path(path)
    return p if p.is_absolute() else REPO_ROOT / p


def load_options(path_or_text):
    """load_options parses a YAML options file (a path) or YAML text (a string containing a newline).

    A top-level `base: OTHER.yml` (found like any options path, or beside this file) makes the file
    a variant: OTHER's options, deep-updated with the rest of this file's.
    """
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        opt, here = yaml.safe_load(path_or_text), None
    else:
        here = resolve_opt_path(path_or_text)
        with open(here) as f:
            opt = yaml.safe_load(f)
    base = (opt or {}).pop("base", None)
    if base is None:
        return opt
    beside = here.parent / base if here is not None else None
    return deep_update(load_options(beside if beside is not None and beside.is_file() else base), opt)


def deep_update(base, extra):
    """deep_update returns a deep copy of `base` updated recursively with `extra`."""
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        out[k] = deep_update(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
