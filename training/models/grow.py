"""grow: start a wider network from a trained narrower one, computing the same function (Net2Net-style).

`widen_into(net, weights)` copies every trained tensor into the leading slice of the wider tensor of
the same name. Channels that the narrow network did not have keep their fresh random initialisation
as *outputs* (they compute something), but every weight with which an old output channel would *read*
a new input channel is zeroed, so the old channels, and the network's output, are exactly what they
were. Training then grows the new channels from there: the zeroed readers get gradients at once,
because the new channels are not zero.

Two layouts need care, and both are prefixes: PixelShuffle(2) reads conv output channels 4c..4c+3 for
channel c, so the first 4*old outputs of an up-sampling conv are the old ones; a FiLM linear writes
[gamma; beta], each half with one row per channel, so its old rows go to [0, old) and [new, new+old).

`load_weights(path)` reads a state dict from a training checkpoint (EMA weights first) or from an
exported ONNX file, whose initializers carry the state dict's names (models/*.onnx): a shipped model
can be the start of the next run without carrying its checkpoint.
"""
import numpy as np
import torch


def eval_weights(ckpt):
    """eval_weights returns the weights to evaluate of a loaded checkpoint: the EMA copy when it has one."""
    return ckpt.get("net_ema") or ckpt["net"]


def checkpoint_meta(ckpt):
    """checkpoint_meta returns what a loaded checkpoint holds besides weights and optimizer state
    (step, options, ...): what a slim checkpoint made from it keeps."""
    return {k: v for k, v in ckpt.items() if k not in ("net", "net_ema", "optimizer")}


def load_weights(path):
    """load_weights returns {name: tensor} from a .pt checkpoint (net_ema, else net) or an .onnx file."""
    path = str(path)
    if path.endswith(".onnx"):
        import onnx
        from onnx import numpy_helper
        model = onnx.load(path)
        return {i.name: torch.from_numpy(np.array(numpy_helper.to_array(i), dtype=np.float32))
                for i in model.graph.initializer}
    return eval_weights(torch.load(path, map_location="cpu"))


def _is_film(name):
    return name.endswith("film.weight") or name.endswith("film.bias")


@torch.no_grad()
def widen_into(net, weights):
    """widen_into loads `weights` (a narrower, or equal, state dict of the same architecture) into `net`.

    Every tensor of `net` must have a same-named tensor in `weights` with the same number of dimensions
    and no dimension larger. Returns the number of tensors that grew. Raises ValueError on a mismatch.
    """
    state = net.state_dict()
    missing = sorted(set(state) - set(weights))
    extra = sorted(set(weights) - set(state))
    if missing or extra:
        raise ValueError(f"weights do not match the network: missing {missing[:4]}, unexpected {extra[:4]}")
    grown = 0
    for name, new in state.items():
        old = weights[name].to(new.device, new.dtype)
        if old.dim() != new.dim() or any(o > n for o, n in zip(old.shape, new.shape)):
            raise ValueError(f"{name}: cannot widen {tuple(old.shape)} into {tuple(new.shape)}")
        if old.shape == new.shape:
            new.copy_(old)
            continue
        grown += 1
        if _is_film(name):
            # rows [gamma(ch); beta(ch)]: keep both halves at their own offsets; new rows stay zero
            # (FiLM starts as the identity); for the weight, columns never grow (the embedding is fixed)
            oc, nc = old.shape[0] // 2, new.shape[0] // 2
            new.zero_()
            new[:oc, ...] = old[:oc, ...]
            new[nc:nc + oc, ...] = old[oc:, ...]
            continue
        if old.dim() >= 2:
            o_out, o_in = old.shape[0], old.shape[1]
            new[:o_out, o_in:] = 0  # old outputs never read new inputs
            new[:o_out, :o_in] = old
        else:
            new[:old.shape[0]] = old
    return grown
