#!/usr/bin/python3
"""Photo-size JPEGs for speed and memory measurements (issue 18): four training photographs
enlarged with Lanczos to 4, 6, 8 and 8 MP and saved by Pillow (libjpeg, 4:2:0) at one QF.

They are for timing and peak memory only, never for quality: they come from the training set and
are smoother than camera photos of the same size. Kodak24 is never used.

    /usr/bin/python3 scripts/make_photoset.py [--out .bench/photos] [--qf 30]
"""
import argparse
import glob
import os

from PIL import Image

SOURCES = ["train/photos2", "train/photos"]
TARGET_MP = [4.0, 6.0, 8.0, 8.0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("JPEGRESTORE_DATA", "../shared/data"))
    ap.add_argument("--out", default=".bench/photos")
    ap.add_argument("--qf", type=int, default=30)
    a = ap.parse_args()
    files = sorted(f for d in SOURCES for f in glob.glob(os.path.join(a.data, d, "*.jpg")))
    if len(files) < len(TARGET_MP):
        raise SystemExit(f"need {len(TARGET_MP)} photos under {a.data}/{{{','.join(SOURCES)}}}, found {len(files)}")
    # The largest photos, ties broken by name, so the set is the same on every machine.
    sizes = {f: Image.open(f).size for f in files}
    largest = sorted(files, key=lambda f: (-sizes[f][0] * sizes[f][1], f))[: len(TARGET_MP)]
    os.makedirs(a.out, exist_ok=True)
    for i, (f, mp) in enumerate(zip(largest, TARGET_MP)):
        w, h = sizes[f]
        s = (mp * 1e6 / (w * h)) ** 0.5
        im = Image.open(f).convert("RGB").resize((round(w * s), round(h * s)), Image.LANCZOS)
        out = os.path.join(a.out, f"photo{i + 1}-{im.size[0]}x{im.size[1]}.jpg")
        im.save(out, quality=a.qf, subsampling="4:2:0")
        print(f"{out}  {im.size[0] * im.size[1] / 1e6:.1f} MP  from {os.path.relpath(f, a.data)}")


if __name__ == "__main__":
    main()
