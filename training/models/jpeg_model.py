"""JPEGModel: the training logic (loss, optimizer, LR schedule, EMA, checkpoints) around an arch."""
import contextlib
import copy
import math
import os

import torch
from torch.nn import functional as F

from training.archs import build_arch
from training.models.grow import eval_weights, load_weights, widen_into


def charbonnier(pred, target, eps=1e-3):
    """charbonnier loss: mean(sqrt((pred - target)^2 + eps^2))."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


LOSSES = {"l1": lambda p, t: F.l1_loss(p, t), "charbonnier": charbonnier}


class JPEGModel:
    """JPEGModel owns the network, its EMA copy, the optimizer and the step counter.

    `opt` is the parsed options dict (keys network_g, train); it is deep-copied and never modified.
    Options under `train`: lr, weight_decay, betas, total_steps (cosine schedule length),
    warmup_steps, eta_min_ratio, loss (l1 | charbonnier), ema_decay (0 = off), bf16 (CPU autocast),
    channels_last, grad_clip.
    """

    def __init__(self, opt, device="cpu"):
        self.opt = copy.deepcopy(opt)
        t = self.opt.get("train", {})
        self.device = torch.device(device)
        self.net = build_arch(self.opt["network_g"]).to(self.device)
        self.channels_last = bool(t.get("channels_last", True))
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.bf16 = bool(t.get("bf16", False))
        self.loss_fn = LOSSES[t.get("loss", "l1")]
        self.lr = float(t.get("lr", 2e-4))
        self.total_steps = int(t.get("total_steps", 100000))
        self.warmup = int(t.get("warmup_steps", 0))
        self.eta_min_ratio = float(t.get("eta_min_ratio", 0.01))
        self.grad_clip = float(t.get("grad_clip", 0) or 0)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.lr,
                                           betas=tuple(t.get("betas", (0.9, 0.99))),
                                           weight_decay=float(t.get("weight_decay", 0.0)))
        self.ema_decay = float(t.get("ema_decay", 0) or 0)
        self.net_ema = copy.deepcopy(self.net).eval() if self.ema_decay > 0 else None
        if self.net_ema is not None:
            for p in self.net_ema.parameters():
                p.requires_grad_(False)
        self.step = 0
        self.qat = None

    def enable_qat(self, int8):
        """enable_qat makes every later train_step run the network with the rounding of its int8 export
        (models/qat.py), in float32 (bf16 is coarser than the uint8 grid), at the ranges of today's
        weights on the calibration crops. int8: the options' int8 section (percentile, crops,
        keep_float, stream, stream_float), the calibration that scripts/ship_int8.sh exports with."""
        from training.models.qat import QATForward, calibrate
        stats = calibrate(self.net, crops=int(int8.get("crops", 64)), percentile=float(int8.get("percentile", 99.9)))
        self.qat = QATForward(self.net, stats, keep_float=int8.get("keep_float", ()),
                              stream_float=int8.get("stream_float", ()), stream=bool(int8.get("stream", False)))

    def lr_at(self, step, progress=None):
        """lr_at is the learning rate of `step`: linear warm-up, then cosine decay to lr*eta_min_ratio
        over total_steps, or over `progress` in [0,1] when given (a time-budgeted run)."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        if progress is not None:
            frac = min(1.0, max(0.0, progress))
        else:
            frac = min(1.0, (step - self.warmup) / max(1, self.total_steps - self.warmup))
        lo = self.lr * self.eta_min_ratio
        return lo + (self.lr - lo) * 0.5 * (1 + math.cos(math.pi * frac))

    def _autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to(self, x):
        x = x.to(self.device, non_blocking=True)
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def train_step(self, batch, progress=None):
        """train_step runs one optimisation step on {lq, gt, qtable} and returns the loss, a detached
        0-d tensor on the model's device: reading it (float()) waits for the device, so a training
        loop reads it only when it logs, and a GPU stays queued with work in between.

        `progress` in [0,1] drives the cosine schedule by time instead of by total_steps."""
        self.net.train()
        lq, gt, qt = self._to(batch["lq"]), self._to(batch["gt"]), batch["qtable"].to(self.device)
        for g in self.optimizer.param_groups:
            g["lr"] = self.lr_at(self.step, progress)
        if self.qat is not None:
            out = self.qat(lq, qt)
        else:
            with self._autocast():
                out = self.net(lq, qt)
        loss = self.loss_fn(out.float(), gt)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
        self.optimizer.step()
        if self.net_ema is not None:
            self._update_ema()
        self.step += 1
        return loss.detach()

    @torch.no_grad()
    def _update_ema(self):
        d = min(self.ema_decay, (1 + self.step) / (10 + self.step))
        ema = list(self.net_ema.parameters())
        torch._foreach_mul_(ema, d)
        torch._foreach_add_(ema, [p.detach() for p in self.net.parameters()], alpha=1 - d)

    def eval_net(self):
        """eval_net is the network to evaluate and export: the EMA copy when EMA is on."""
        return (self.net_ema if self.net_ema is not None else self.net).eval()

    def state_dict(self):
        return {
            "step": self.step,
            "options": self.opt,
            "net": self.net.state_dict(),
            "net_ema": self.net_ema.state_dict() if self.net_ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
        }

    def save(self, path, extra=None, slim=False):
        """save writes a checkpoint atomically (temp file + rename).

        A slim checkpoint holds only the weights to evaluate and export (the EMA copy, as "net_ema")
        with the step and options: a quarter of the size (no training weights, no optimizer moments),
        for bringing a model back from a GPU machine under a per-file size limit. It cannot resume
        training; load_eval_net reads it."""
        if slim:
            state = {"step": self.step, "options": self.opt, "net_ema": self.eval_net().state_dict()}
        else:
            state = self.state_dict()
        state.update(extra or {})
        tmp = f"{path}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, path)

    def load(self, path):
        """load restores network, EMA, optimizer and step from a checkpoint; returns the checkpoint dict."""
        ckpt = torch.load(path, map_location=self.device)
        if "optimizer" not in ckpt:
            raise ValueError(f"{path} is a slim checkpoint (EMA weights only): it cannot resume training")
        self.net.load_state_dict(ckpt["net"])
        if self.net_ema is not None:
            self.net_ema.load_state_dict(ckpt["net_ema"] if ckpt.get("net_ema") else ckpt["net"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.step = int(ckpt["step"])
        return ckpt

    def init_from(self, path):
        """init_from starts training from the weights of a checkpoint (the EMA copy when it has one; a
        slim checkpoint does) or of an exported .onnx model, with a fresh optimizer at step 0:
        fine-tuning, or continuing a run whose optimizer state was not kept. The arch must be the same
        or wider (more channels per level): a wider net starts as the same function (grow.widen_into).
        Returns the number of tensors that grew."""
        weights = load_weights(path)
        grown = widen_into(self.net, weights)
        if self.net_ema is not None:
            self.net_ema.load_state_dict(self.net.state_dict())
        return grown


def load_eval_net(ckpt_path, opt=None, device="cpu"):
    """load_eval_net builds the arch from the checkpoint's (or the given) options and loads its weights,
    preferring the EMA weights; returns (net in eval mode, float32, NCHW; options).

    With `manifest: {weights: float16}` in the options the weights are rounded to float16 values (kept
    as float32 tensors): the model that export_onnx.py stores at half the size, so that test.py measures,
    and the parity fixture pins, exactly the shipped model."""
    ckpt = torch.load(ckpt_path, map_location=device)
    opt = opt or ckpt["options"]
    net = build_arch(opt["network_g"])
    net.load_state_dict(eval_weights(ckpt))
    weights = (opt.get("manifest") or {}).get("weights", "float32")
    if weights == "float16":
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(p.half().float())
    elif weights != "float32":
        raise ValueError(f"manifest weights {weights!r}: want float32 or float16")
    return net.to(device).eval(), opt
