"""Pack clean training data into one .npz, so it can travel to a GPU machine:
python3 training/tools/pack_data.py -opt training/options/fast.yml [--out .train/crops.npz] [--size 160]
[--max-mb 50] [--whole [--exclude EARLIER.npz ...]].

Default: crops taken on a regular grid (stride = size) from every training image (never the
validation set), shuffled with a fixed seed, stored as lossless WebP, as many as fit under --max-mb;
the dataset then takes its random (smaller or equal) crops inside these.

--whole: the training files themselves, byte for byte, in a seeded random order, as many as fit.
The sources are JPEGs of quality 95-98, so this carries about twice the pixels of the WebP crops in
the same bytes, decodes to exactly the pixels training from the folders sees, and lets the dataset
draw crops anywhere in each image. --exclude leaves out the files of an earlier --whole pack, so a
later run can continue on images the first one never saw.
"""
import argparse
import hashlib
import io
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from training.data.jpeg_dataset import list_images, load_rgb, packed_blobs  # noqa: E402
from training.train import train_dataset_options  # noqa: E402
from training.utils.options import load_options, repo_path  # noqa: E402


def grid_crops(img, size):
    """grid_crops returns the non-overlapping size x size crops of img on a grid from the top-left."""
    h, w = img.shape[:2]
    return [img[y:y + size, x:x + size] for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)]


def encode_crop(crop):
    """encode_crop returns the lossless WebP bytes of a uint8 RGB crop (about 1.7x smaller than zlib)."""
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="WEBP", lossless=True, quality=80, method=4)
    return buf.getvalue()


NPZ_HEADROOM = 4096  # bytes kept free under --max-mb for the npz headers


def save_blobs(out, key, blobs):
    """save_blobs writes blobs (a list of bytes) to the .npz `out` as `key` (the blobs concatenated,
    uint8) and `offsets` (int64, n+1): blob i is key[offsets[i]:offsets[i+1]]."""
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        np.savez(f, **{key: np.frombuffer(b"".join(blobs), dtype=np.uint8)}, offsets=offsets)


def pack(folders, out, size, max_mb, seed=0):
    """pack writes as many shuffled crops as fit in max_mb to `out`; returns their number.

    The .npz holds the lossless WebP files as `webp` (see save_blobs). Lossless, so the pixels are the
    decoded sources'.
    """
    crops = []
    for f in list_images(folders):
        crops += grid_crops(load_rgb(f), size)
    rng = np.random.default_rng(seed)
    limit = max_mb * 1e6 - NPZ_HEADROOM
    blobs, total = [], 0
    for i in rng.permutation(len(crops)):
        b = encode_crop(crops[i])
        if total + len(b) > limit:
            break
        blobs.append(b)
        total += len(b)
    if not blobs:
        raise ValueError(f"no {size}x{size} crop fits in {max_mb} MB")
    save_blobs(out, "webp", blobs)
    return len(blobs)


def pack_whole(folders, out, max_mb, seed=0, exclude=()):
    """pack_whole writes the training files themselves, in a seeded random order, skipping those that
    would pass max_mb and those whose bytes are in `exclude` (e.g. the files of an earlier pack, for a
    run on fresh images); returns (number of files, megapixels). The .npz holds them as `files` (see
    save_blobs)."""
    files = list_images(folders)
    rng = np.random.default_rng(seed)
    limit = max_mb * 1e6 - NPZ_HEADROOM
    skip = {hashlib.sha256(b).digest() for b in exclude}
    blobs, total, mp = [], 0, 0.0
    for i in rng.permutation(len(files)):
        b = files[i].read_bytes()
        if total + len(b) > limit or hashlib.sha256(b).digest() in skip:
            continue
        with Image.open(io.BytesIO(b)) as im:
            mp += im.width * im.height / 1e6
        blobs.append(b)
        total += len(b)
    if not blobs:
        raise ValueError(f"no training file fits in {max_mb} MB")
    save_blobs(out, "files", blobs)
    return len(blobs), mp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-opt", required=True)
    ap.add_argument("--out", default=".train/crops.npz")
    ap.add_argument("--size", type=int, default=160, help="crop side (a multiple of 16, >= the training crop)")
    ap.add_argument("--max-mb", type=float, default=50)
    ap.add_argument("--whole", action="store_true", help="pack the training files themselves, not crops")
    ap.add_argument("--exclude", action="append", default=[],
                    help="with --whole: leave out the files of this earlier pack (repeatable)")
    a = ap.parse_args()
    if a.size % 16:
        raise SystemExit("--size must be a multiple of 16")
    d = train_dataset_options(load_options(a.opt))
    if a.whole:
        exclude = [b for p in a.exclude for b in packed_blobs(repo_path(p))]
        n, mp = pack_whole(d["folders"], repo_path(a.out), a.max_mb, exclude=exclude)
        print(f"wrote {n} files ({mp:.1f} MP) to {a.out}")
        return
    n = pack(d["folders"], repo_path(a.out), a.size, a.max_mb)
    print(f"wrote {n} crops of {a.size}x{a.size} to {a.out}")


if __name__ == "__main__":
    main()
