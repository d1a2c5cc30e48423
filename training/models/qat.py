"""Quantization-aware fine-tuning: QUNet's forward pass with the rounding of its int8 QDQ export.

tools/quantize_int8.py turns a float QUNet into an int8 model by post-training calibration: each Conv's
weights become int8 per output channel, its input and output uint8 per tensor over the ranges the
float model's activations took on calibration crops, and with --stream the residual stream between
the Convs (each block's h * scale, x + h * scale, the FiLM scale and shift, the skip sums) is on the
uint8 grid too. QATForward runs a QUNet's own modules with that same rounding, at the same places,
as fake quantization with straight-through gradients, so that training (train.py --qat) moves the
float weights to where the rounding costs least. The network stays a plain QUNet: its checkpoints,
exports and the int8 export by quantize_int8.py are unchanged, and the int8 model is calibrated again
from the fine-tuned weights.

Where the rounding happens mirrors quantize_int8.qdq, tensor for tensor:
- a Conv (but those whose weight name starts with a keep_float prefix): its input at the Conv's "in"
  range (the head's input is exact, as in quantize_int8.exact_head_input: image - 128/255), its weights symmetric int8 per output channel
  at max |w| / 127, its output at the Conv's "out" range;
- a block on the stream (not named by stream_float): its input x at conv1's "in" range, unless x is
  a Conv's output (already rounded), the FiLM scale and shift, h * scale and x + h * scale at their
  ranges; the block's output is rounded by whoever reads it;
- a skip sum on the stream: the up-sampling's output (already rounded) plus the skip at the range of
  the down-sampling Conv that reads it.
The ranges are fixed for the run (calibrate: quantize_int8.activation_ranges on its calibration
crops, with stream terms). The weights' scales follow the weights.
"""
import torch
from torch.nn import functional as F

from training.archs.qunet_arch import FiLMResBlock


class _RoundSTE(torch.autograd.Function):
    """Rounding whose gradient is the identity (the straight-through estimator)."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def uint8_grid(lo, hi):
    """uint8_grid returns (scale, zero point) as floats: quantize_int8.uint8_params, the grid of the export."""
    from training.tools.quantize_int8 import uint8_params
    scale, zero = uint8_params(lo, hi)
    return float(scale), float(zero)


def fake_uint8(x, grid):
    """fake_uint8 is DequantizeLinear(QuantizeLinear(x)) on the uint8 grid (scale, zero point), in float32
    whatever x's dtype; the gradient passes where x is inside the grid's range and is 0 where it clips."""
    scale, zero = grid
    q = torch.clamp(_RoundSTE.apply(x.float() / scale) + zero, 0, 255)
    return ((q - zero) * scale).to(x.dtype)


def fake_int8_weight(w):
    """fake_int8_weight is a Conv weight rounded as quantize_int8.qdq stores it: int8, symmetric, one scale
    per output channel (max |w| / 127, held constant for the gradient)."""
    scale = (w.detach().abs().flatten(1).amax(1).clamp_min(1e-8) / 127).view(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(_RoundSTE.apply(w / scale), -127, 127) * scale


class QATForward:
    """QATForward(net, stats, ...)(image, qtable) is net(image, qtable) with the int8 export's rounding.

    stats: quantize_int8.activation_ranges(net, ..., stream=True) of the float net ({(module, kind): [lo, hi]}).
    keep_float, stream_float, exact_head: as quantize_int8.py's --keep-float, --stream-float, and its
    exact head input (the default; a head named by keep_float is float anyway)."""

    def __init__(self, net, stats, keep_float=("tail.",), stream_float=(), stream=True, exact_head=True):
        self.net, self.keep_float, self.stream_float = net, tuple(keep_float), tuple(stream_float)
        self.stream, self.exact_head = stream, exact_head
        self.grids = {k: uint8_grid(*v) for k, v in stats.items()}
        missing = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Conv2d) and (n, "in") not in self.grids]
        if self.stream:
            missing += [n for n, m in net.named_modules() if isinstance(m, FiLMResBlock) and (n, "mid") not in self.grids]
        if missing:
            raise ValueError(f"no calibrated range for {missing[:4]}: calibrate with stream=True on this net")

    def _float(self, name):
        return any((name + ".weight").startswith(p) for p in self.keep_float)

    def _float_stream(self, name):
        return not self.stream or any(name.startswith(p) for p in self.stream_float)

    def conv(self, name, mod, x, bias=None):
        if self._float(name):
            return mod(x)
        if not (name == "head" and self.exact_head):
            x = fake_uint8(x, self.grids[(name, "in")])
        bias = mod.bias if bias is None else bias
        y = F.conv2d(x, fake_int8_weight(mod.weight), bias, mod.stride, mod.padding, mod.dilation, mod.groups)
        return fake_uint8(y, self.grids[(name, "out")])

    def head(self, image):
        """head is the head Conv of image - 0.5; quantized with an exact input, it is the export's
        (quantize_int8.exact_head_input): the Conv of image - 128/255, whose zero padding stands for a
        slightly different border, with the bias made up for the offset."""
        net = self.net
        if self._float("head") or not self.exact_head:
            return self.conv("head", net.head, F.pixel_unshuffle(image - 0.5, 2))
        from training.tools.quantize_int8 import HEAD_OFFSET
        bias = net.head.bias + (HEAD_OFFSET - 0.5) * net.head.weight.sum(dim=(1, 2, 3))
        return self.conv("head", net.head, F.pixel_unshuffle(image - HEAD_OFFSET, 2), bias)

    def block(self, name, b, x, emb, x_rounded):
        """block is FiLMResBlock b's forward; x_rounded: x is a Conv's (rounded) output."""
        h = self.conv(name + ".conv2", b.conv2, F.leaky_relu(self.conv(name + ".conv1", b.conv1, x), 0.1))
        gamma, beta = b.film(emb).chunk(2, dim=1)
        scale, shift = (1 + gamma)[:, :, None, None], beta[:, :, None, None]
        if self._float_stream(name):
            return x + h * scale + shift
        g = self.grids
        if not x_rounded:
            x = fake_uint8(x, g[(name + ".conv1", "in")])
        prod = fake_uint8(h * fake_uint8(scale, g[(name, "scale")]), g[(name, "prod")])
        return fake_uint8(x + prod, g[(name, "mid")]) + fake_uint8(shift, g[(name, "shift")])

    def __call__(self, image, qtable):
        net = self.net
        emb = net.qmlp(qtable)
        x = self.head(image)
        rounded = not self._float("head")
        skips = []
        for i, (blocks, down) in enumerate(zip(net.enc, net.down)):
            for j, b in enumerate(blocks):
                x = self.block(f"enc.{i}.{j}", b, x, emb, rounded)
                rounded = False
            skips.append(x)
            x = self.conv(f"down.{i}", down, x)
            rounded = True
        for j, b in enumerate(net.mid):
            x = self.block(f"mid.{j}", b, x, emb, rounded)
            rounded = False
        for i in reversed(range(len(net.dec))):
            up = F.pixel_shuffle(self.conv(f"up.{i}.0", net.up[i][0], x), 2)
            skip = skips[i]
            if not self._float_stream(f"up.{i}"):
                skip = fake_uint8(skip, self.grids[(f"down.{i}", "in")])
            x = up + skip
            for j, b in enumerate(net.dec[i]):
                x = self.block(f"dec.{i}.{j}", b, x, emb, False)
        return image + F.pixel_shuffle(self.conv("tail", net.tail, x), 2)


def calibrate(net, crops=64, percentile=99.9):
    """calibrate returns the ranges QATForward needs: quantize_int8.activation_ranges of net (its current
    weights, in eval mode, float32) on quantize_int8's calibration crops, with the stream terms."""
    from training.tools.quantize_int8 import activation_ranges, calibration_batches
    was_training = net.training
    net.eval()
    try:
        return activation_ranges(net, calibration_batches(crops), percentile, stream=True)
    finally:
        net.train(was_training)
