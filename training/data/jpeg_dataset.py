"""JPEGDataset: random clean crops of the training images, degraded on the fly by degrade().

Sources: image folders (decoded with Pillow, held in memory) or one or more packed .npz files written
by pack_data.py (fixed-size clean crops, or whole training files). The validation set (Kodak24) must never be listed here.
"""
import io
import pathlib

import numpy as np
import torch
from PIL import Image

from training.data.degrade import DegradeConfig, degrade

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(folders):
    """list_images returns the sorted image files directly in each folder of `folders`."""
    files = []
    for folder in folders:
        files += sorted(p for p in pathlib.Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return files


def load_rgb(path):
    """load_rgb decodes an image file with Pillow into a uint8 RGB array [H,W,3]."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def packed_blobs(path):
    """packed_blobs returns the encoded images of a pack_data.py file (WebP crops or whole training
    files), as bytes."""
    with np.load(path) as z:
        data, off = z["webp"] if "webp" in z else z["files"], z["offsets"]
    return [data[a:b].tobytes() for a, b in zip(off[:-1], off[1:])]


def load_packed(path):
    """load_packed decodes the images of a pack_data.py file: uint8 RGB arrays [H,W,3]."""
    out = []
    for blob in packed_blobs(path):
        with Image.open(io.BytesIO(blob)) as im:
            out.append(np.asarray(im.convert("RGB")))
    return out


def _check_not_val(path):
    if "val" in pathlib.Path(path).resolve().parts:
        raise ValueError(f"{path}: refusing to train on a validation folder")


def augment(img, rng):
    """augment applies one of the 8 flips/rotations (the dihedral group) to an [H,W,C] array."""
    k = int(rng.integers(0, 8))
    if k & 4:
        img = img[:, ::-1]
    return np.ascontiguousarray(np.rot90(img, k & 3))


class JPEGDataset(torch.utils.data.Dataset):
    """JPEGDataset yields dicts {lq [3,S,S], gt [3,S,S] (uint8), qtable [128] (float32, (0,1])}.

    Images stay uint8 until the model's device (JPEGModel divides by 255 there): a quarter of the
    bytes through the loader's shared memory, pinning and the host-to-GPU copy.

    Options (a dict): `folders` (list of image folders) or `packed` (an .npz from pack_data.py, or a
    list of them: the union of their images, e.g. packs that travelled to a GPU machine one per call);
    `crop` (side, a multiple of 16); `length` (the nominal epoch length); `degrade` (DegradeConfig
    fields); `seed`. Each item draws a random image, crop, flip/rotation and degradation.
    """

    def __init__(self, opt):
        self.crop = int(opt.get("crop", 128))
        if self.crop % 16:
            raise ValueError(f"crop {self.crop} is not a multiple of 16")
        self.length = int(opt.get("length", 100000))
        self.cfg = DegradeConfig.from_dict(opt.get("degrade"))
        self.seed = int(opt.get("seed", 0))
        self.rng = np.random.default_rng(self.seed)
        if opt.get("packed"):
            packs = opt["packed"] if isinstance(opt["packed"], (list, tuple)) else [opt["packed"]]
            self.images = []
            for pack in packs:
                _check_not_val(pack)
                self.images += load_packed(pack)
            if min(min(im.shape[:2]) for im in self.images) < self.crop:
                raise ValueError(f"packed images smaller than crop {self.crop}")
        else:
            files = list_images(opt["folders"])
            for f in files:
                _check_not_val(f)
            self.images = [im for im in (load_rgb(f) for f in files)
                           if im.shape[0] >= self.crop and im.shape[1] >= self.crop]
        if not self.images:
            raise ValueError("no training images")
        # Draw images in proportion to their area, so each pixel is about equally likely.
        area = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.p = area / area.sum()

    def __len__(self):
        return self.length

    def reseed(self, seed):
        """reseed restarts the random stream (used when resuming and per DataLoader worker)."""
        self.rng = np.random.default_rng(seed)

    def sample(self):
        """sample returns one (lq uint8 [S,S,3], gt uint8 [S,S,3], qtable [128])."""
        rng, s = self.rng, self.crop
        img = self.images[int(rng.choice(len(self.images), p=self.p))]
        y = int(rng.integers(0, img.shape[0] - s + 1))
        x = int(rng.integers(0, img.shape[1] - s + 1))
        gt = augment(img[y:y + s, x:x + s], rng)
        lq, qt = degrade(gt, rng, cfg=self.cfg)
        return lq, gt, qt

    def __getitem__(self, index):
        lq, gt, qt = self.sample()
        return {
            "lq": torch.from_numpy(np.array(lq)).permute(2, 0, 1).contiguous(),
            "gt": torch.from_numpy(np.array(gt)).permute(2, 0, 1).contiguous(),
            "qtable": torch.from_numpy(qt),
        }

    def batch(self, n):
        """batch returns n stacked items without a DataLoader (the CPU path: no worker processes)."""
        items = [self[0] for _ in range(n)]
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}
