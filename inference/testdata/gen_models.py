#!/usr/bin/python3
"""Generates the tiny ONNX models the inference/ and gpuworker/ tests run, with their manifests.

    cd inference/testdata && /usr/bin/python3 gen_models.py

Models (all float32, input `image` [N,3,H,W], output `restored`, dynamic N/H/W):
  identity   restored = image; no conditioning; receptive field 1.
  conv       three 3×3 convolutions (zero padding) with seeded random weights, tanh between them,
             plus the input: bounded receptive field 7, not symmetric under flips — the tiling and
             ensemble tests need both.
  qcond      like conv but conditioned: `qtable` [N,128] → linear → per-channel scale of the
             correction; receptive field 7.
  bench      a heavier net for benchmarks, shaped like the CPU preset: PixelUnshuffle(2), five
             3×3 convolutions at 48 channels, PixelShuffle(2), residual.
The weights come from torch.manual_seed, so rerunning rewrites the same models.
"""
import hashlib
import json
import os

import torch
from torch import nn


class Identity(nn.Module):
    def forward(self, image):
        return image * 1.0


class Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 3, 3, padding=1)

    def correction(self, x):
        return self.c3(torch.tanh(self.c2(torch.tanh(self.c1(x)))))

    def forward(self, image):
        return image + 0.1 * self.correction(image)


class QCond(Conv):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(128, 3)

    def forward(self, image, qtable):
        scale = 1.0 + self.q(qtable)[:, :, None, None]
        return image + 0.1 * scale * self.correction(image)


class Bench(nn.Module):
    def __init__(self, ch=48, depth=5):
        super().__init__()
        layers = [nn.PixelUnshuffle(2), nn.Conv2d(12, ch, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(ch, 12, 3, padding=1), nn.PixelShuffle(2)]
        self.body = nn.Sequential(*layers)

    def forward(self, image):
        return image + 0.1 * self.body(image)


def receptive_field(model, cond):
    """Full width of the input region that one output pixel depends on, measured with autograd."""
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    args = (x, torch.rand(1, 128)) if cond else (x,)
    model(*args)[0, :, 48, 48].sum().backward()
    cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero()
    return int(cols.max() - cols.min() + 1)


def export(name, model, cond):
    model.eval()
    x = torch.rand(1, 3, 32, 48)
    args = (x, torch.rand(1, 128)) if cond else (x,)
    inputs = ["image", "qtable"] if cond else ["image"]
    axes = {"image": {0: "n", 2: "h", 3: "w"}, "restored": {0: "n", 2: "h", 3: "w"}}
    if cond:
        axes["qtable"] = {0: "n"}
    path = f"{name}.onnx"
    torch.onnx.export(model, args, path, input_names=inputs, output_names=["restored"],
                      dynamic_axes=axes, opset_version=17)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    manifest = {
        "name": name, "version": "test", "file": path, "sha256": digest,
        "inputs": {"image": "image", "qtable": "qtable" if cond else ""},
        "output": "restored", "conditioning": "qtable" if cond else "none",
        "pad_multiple": 16, "receptive_field": receptive_field(model, cond),
        "trained_qf": [10, 95], "params": sum(p.numel() for p in model.parameters()),
    }
    with open(f"{name}.json", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(name, manifest["receptive_field"], manifest["params"], os.path.getsize(path))


def main():
    torch.manual_seed(1)
    export("identity", Identity(), False)
    export("conv", Conv(), False)
    export("qcond", QCond(), True)
    export("bench", Bench(), False)


if __name__ == "__main__":
    main()
