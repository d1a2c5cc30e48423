"""QUNet: a quantization-table-conditioned residual U-Net for JPEG artifact removal.

The image is folded with PixelUnshuffle(2), then a U-Net works at 1/2 … 1/2**levels resolution
(total down-sampling 2**levels <= 16, so the network is equivariant to shifts by multiples of 16 away
from the borders). Every residual block is modulated (FiLM: per-channel scale and shift) by an
embedding of the 128-entry quantization-table vector (luma then chroma, natural order, /255).
There is no normalisation and no global pooling: the receptive field is bounded, and tiled inference
with enough overlap equals whole-image inference. The output is input + correction.
"""
from torch import nn
from torch.nn import functional as F

from training.archs import ARCH_REGISTRY


class FiLMResBlock(nn.Module):
    """FiLMResBlock is x + FiLM(conv3x3(act(conv3x3(x)))), FiLM(h) = h * (1 + gamma(e)) + beta(e)."""

    def __init__(self, ch, emb_ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.film = nn.Linear(emb_ch, 2 * ch)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.conv2.weight.data.mul_(0.5)

    def forward(self, x, emb):
        h = self.conv2(F.leaky_relu(self.conv1(x), 0.1))
        gamma, beta = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        return x + h * (1 + gamma) + beta


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
    """

    def __init__(self, channels=(32, 48, 64, 96), enc_blocks=(1, 1, 1), mid_blocks=2, dec_blocks=(1, 1, 1),
                 emb_ch=64, qtable_dim=128):
        super().__init__()
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
            self.enc.append(nn.ModuleList([FiLMResBlock(channels[i], emb_ch) for _ in range(enc_blocks[i])]))
            self.down.append(nn.Conv2d(channels[i], channels[i + 1], 2, stride=2))
        self.mid = nn.ModuleList([FiLMResBlock(channels[-1], emb_ch) for _ in range(mid_blocks)])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(levels - 1):
            self.up.append(nn.Sequential(nn.Conv2d(channels[i + 1], channels[i] * 4, 1), nn.PixelShuffle(2)))
            self.dec.append(nn.ModuleList([FiLMResBlock(channels[i], emb_ch) for _ in range(dec_blocks[i])]))
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
