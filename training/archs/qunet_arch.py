"""QUNet: a quantization-table-conditioned residual U-Net for JPEG artifact removal.

The image is folded with PixelUnshuffle(2), then a U-Net works at 1/2 … 1/2**levels resolution
(total down-sampling 2**levels <= 16, so the network is equivariant to shifts by multiples of 16 away
from the borders). Every residual block is modulated (FiLM: per-channel scale and shift) by an
embedding of the 128-entry quantization-table vector (luma then chroma, natural order, /255).
There is no global pooling: the receptive field is bounded, and tiled inference with enough overlap
equals whole-image inference. The output is input + correction.

Residual blocks (`block`):
- "res" (FiLMResBlock): two 3x3 convolutions, no normalisation. Every shipped model uses it.
- "rep": the same block trained with RepVGG branches (RepConv3x3); fuse_rep makes it "res" again, so
  it costs the same at inference.
- "naf" (NAFFiLMBlock): NAFNet's block (Chen et al., "Simple Baselines for Image Restoration", ECCV
  2022: per-pixel LayerNorm over channels, 1x1 expand, 3x3 depthwise convolution, SimpleGate, 1x1, then a
  gated 1x1 feed-forward), with its simplified channel attention (a global average pool, which would
  make the output depend on the whole image and break exact tiling) replaced by the qtable FiLM:
  the per-channel scale comes from how the file was compressed instead of from the image's mean.
"rep" and "naf" lost to "res" at equal ONNX Runtime time and equal training minutes
(training/tools/compare_blocks.py; models/fast.md, Block comparison).
"""
import functools

import torch
from torch import nn
from torch.nn import functional as F

from training.archs import ARCH_REGISTRY


class RepConv3x3(nn.Module):
    """RepConv3x3 trains a 3x3 convolution as three branches, 3x3 + 1x1 + identity (RepVGG's, without
    batch norm: Ding et al., CVPR 2021); fused() is the one Conv2d that computes the same function."""

    def __init__(self, ch):
        super().__init__()
        self.k3 = nn.Conv2d(ch, ch, 3, padding=1)
        self.k1 = nn.Conv2d(ch, ch, 1, bias=False)
        nn.init.zeros_(self.k1.weight)

    def forward(self, x):
        return self.k3(x) + self.k1(x) + x

    @torch.no_grad()
    def fused(self):
        ch = self.k3.in_channels
        w = self.k3.weight.clone()
        conv = nn.Conv2d(ch, ch, 3, padding=1).to(device=w.device, dtype=w.dtype)
        w[:, :, 1, 1] += self.k1.weight[:, :, 0, 0] + torch.eye(ch, dtype=w.dtype, device=w.device)
        conv.weight.copy_(w)
        conv.bias.copy_(self.k3.bias)
        return conv


class FiLMResBlock(nn.Module):
    """FiLMResBlock is x + FiLM(conv3x3(act(conv3x3(x)))), FiLM(h) = h * (1 + gamma(e)) + beta(e).
    With rep=True each 3x3 convolution trains as a RepConv3x3 (fuse_rep makes it one again)."""

    def __init__(self, ch, emb_ch, rep=False):
        super().__init__()
        conv = RepConv3x3 if rep else (lambda c: nn.Conv2d(c, c, 3, padding=1))
        self.conv1 = conv(ch)
        self.conv2 = conv(ch)
        self.film = nn.Linear(emb_ch, 2 * ch)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        if rep:  # the identity branch of conv2 would add x to the correction: start its 3x3 at -identity
            with torch.no_grad():
                self.conv2.k3.weight.mul_(0.5)
                self.conv2.k3.weight[:, :, 1, 1] -= torch.eye(ch)
        else:
            self.conv2.weight.data.mul_(0.5)

    def parts(self, x, emb):
        """parts returns the block's terms: forward is x + h * scale + shift (scale and shift [N, C, 1, 1]).
        tools/quantize_int8.py calibrates the int8 residual stream on them."""
        h = self.conv2(F.leaky_relu(self.conv1(x), 0.1))
        # Split [N, 2C] first, widen to [N, C, 1, 1] last: in an int8 export ONNX Runtime can then move
        # its NHWC layout through the FiLM (a transpose of the small FiLM vectors instead of the image).
        gamma, beta = self.film(emb).chunk(2, dim=1)
        return h, (1 + gamma)[:, :, None, None], beta[:, :, None, None]

    def forward(self, x, emb):
        h, scale, shift = self.parts(x, emb)
        return x + h * scale + shift


class LayerNorm2d(nn.Module):
    """LayerNorm2d normalises each pixel's channel vector (NCHW), with a per-channel affine; pixel-local."""

    def __init__(self, ch, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, ch, 1, 1))
        self.eps = eps

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        d = x - mu
        var = (d * d).mean(1, keepdim=True)
        return d * torch.rsqrt(var + self.eps) * self.weight + self.bias


def simple_gate(x):
    a, b = x.chunk(2, dim=1)
    return a * b


class NAFFiLMBlock(nn.Module):
    """NAFFiLMBlock is NAFNet's block with the qtable FiLM in place of its channel attention.

    y = x + beta * conv1x1(FiLM(SimpleGate(dwconv3x3(conv1x1(LN(x))))))
    out = y + gamma * conv1x1(SimpleGate(conv1x1(LN(y))))
    beta and gamma (per channel) start at zero, so a new block is the identity.
    """

    def __init__(self, ch, emb_ch, expand=2, ffn_expand=2):
        super().__init__()
        dw = ch * expand
        self.norm1 = LayerNorm2d(ch)
        self.pw1 = nn.Conv2d(ch, dw, 1)
        self.dw = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.film = nn.Linear(emb_ch, dw)  # scale and shift for the dw // 2 gated channels
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.pw2 = nn.Conv2d(dw // 2, ch, 1)
        self.norm2 = LayerNorm2d(ch)
        self.ffn1 = nn.Conv2d(ch, ch * ffn_expand, 1)
        self.ffn2 = nn.Conv2d(ch * ffn_expand // 2, ch, 1)
        self.beta = nn.Parameter(torch.zeros(1, ch, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, ch, 1, 1))

    def forward(self, x, emb):
        h = simple_gate(self.dw(self.pw1(self.norm1(x))))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        y = x + self.pw2(h * (1 + scale) + shift) * self.beta
        return y + self.ffn2(simple_gate(self.ffn1(self.norm2(y)))) * self.gamma


BLOCKS = {"res": FiLMResBlock, "rep": functools.partial(FiLMResBlock, rep=True), "naf": NAFFiLMBlock}


@ARCH_REGISTRY.register()
class QUNet(nn.Module):
    """QUNet maps (image [N,3,H,W] in [0,1], qtable [N,128] in (0,1]) to restored [N,3,H,W].

    H and W must be multiples of 2**(levels) (16 for levels=4, the maximum).

    Args:
        channels: channels per level, level 0 at 1/2 resolution, level i at 1/2**(i+1).
        enc_blocks: residual blocks per encoder level (len(channels) - 1 entries).
        mid_blocks: residual blocks at the deepest level.
        dec_blocks: residual blocks per decoder level (len(channels) - 1 entries).
        emb_ch: width of the quantization-table embedding.
        qtable_dim: length of the qtable input (128).
        block: "res" (FiLMResBlock) or "naf" (NAFFiLMBlock).
    """

    def __init__(self, channels=(32, 48, 64, 96), enc_blocks=(1, 1, 1), mid_blocks=2, dec_blocks=(1, 1, 1),
                 emb_ch=64, qtable_dim=128, block="res"):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"block {block!r}: want one of {sorted(BLOCKS)}")
        Block = BLOCKS[block]
        channels = list(channels)
        levels = len(channels)
        if levels > 4:
            raise ValueError("at most 4 levels: PixelUnshuffle(2) plus 3 down-samplings is x16")
        if len(enc_blocks) != levels - 1 or len(dec_blocks) != levels - 1:
            raise ValueError("enc_blocks and dec_blocks need len(channels) - 1 entries")
        self.multiple = 2 ** levels
        self.qmlp = nn.Sequential(
            nn.Linear(qtable_dim, emb_ch), nn.LeakyReLU(0.1),
            nn.Linear(emb_ch, emb_ch), nn.LeakyReLU(0.1),
        )
        self.head = nn.Conv2d(12, channels[0], 3, padding=1)
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        for i in range(levels - 1):
            self.enc.append(nn.ModuleList([Block(channels[i], emb_ch) for _ in range(enc_blocks[i])]))
            self.down.append(nn.Conv2d(channels[i], channels[i + 1], 2, stride=2))
        self.mid = nn.ModuleList([Block(channels[-1], emb_ch) for _ in range(mid_blocks)])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(levels - 1):
            self.up.append(nn.Sequential(nn.Conv2d(channels[i + 1], channels[i] * 4, 1), nn.PixelShuffle(2)))
            self.dec.append(nn.ModuleList([Block(channels[i], emb_ch) for _ in range(dec_blocks[i])]))
        self.tail = nn.Conv2d(channels[0], 12, 3, padding=1)
        self.tail.weight.data.mul_(0.1)
        nn.init.zeros_(self.tail.bias)

    def forward(self, image, qtable):
        emb = self.qmlp(qtable)
        x = self.head(F.pixel_unshuffle(image - 0.5, 2))
        skips = []
        for blocks, down in zip(self.enc, self.down):
            for b in blocks:
                x = b(x, emb)
            skips.append(x)
            x = down(x)
        for b in self.mid:
            x = b(x, emb)
        for i in reversed(range(len(self.dec))):
            x = self.up[i](x) + skips[i]
            for b in self.dec[i]:
                x = b(x, emb)
        return image + F.pixel_shuffle(self.tail(x), 2)


def fuse_rep(net):
    """fuse_rep turns a QUNet of "rep" blocks, in place, into the same function with plain 3x3
    convolutions (the "res" network of the same channels and depths); returns net."""
    for m in list(net.modules()):
        for name, child in list(m.named_children()):
            if isinstance(child, RepConv3x3):
                setattr(m, name, child.fused())
    return net
