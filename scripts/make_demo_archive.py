#!/usr/bin/python3
"""Writes the demo archive: public-domain/CC0 photos that Debian's python3-skimage ships, saved
with Pillow (libjpeg, IJG tables, 4:2:0 — the NTIRE 2024 protocol) at several quality factors, in
two "prefixes", plus a few files that a real archive also holds: a progressive JPEG, a gray one,
one with an EXIF orientation, one that is not a JPEG, and one cut short.

Usage: make_demo_archive.py OUT_DIR   (idempotent: rewrites the same bytes)

Licences (from skimage.data's docstrings): astronaut (NASA, public domain), rocket (SpaceX,
public domain), chelsea, coffee, camera (CC0).
"""
import os
import struct
import sys

from PIL import Image

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"


def exif_orientation(o):
    """A minimal little-endian TIFF with IFD0 = {Orientation: o}, as Pillow's exif= wants it."""
    ifd = struct.pack("<HHHIHH", 1, 0x0112, 3, 1, o, 0) + struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd


def main(out):
    src = {n: Image.open(os.path.join(SKIMAGE_DATA, f)) for n, f in [
        ("astronaut", "astronaut.png"), ("chelsea", "chelsea.png"), ("coffee", "coffee.png"),
        ("rocket", "rocket.jpg"), ("camera", "camera.png")]}
    plan = [
        ("scans", "astronaut", [10, 30, 60]),
        ("scans", "coffee", [15, 40]),
        ("web", "chelsea", [20, 50, 95]),
        ("web", "rocket", [25, 70]),
    ]
    for prefix, name, qfs in plan:
        os.makedirs(os.path.join(out, prefix), exist_ok=True)
        for q in qfs:
            src[name].convert("RGB").save(os.path.join(out, prefix, f"{name}_q{q}.jpg"), quality=q)
    src["camera"].convert("L").save(os.path.join(out, "scans", "camera_gray_q20.jpg"), quality=20)
    src["coffee"].convert("RGB").save(os.path.join(out, "web", "coffee_progressive_q35.jpg"),
                                      quality=35, progressive=True)
    src["chelsea"].convert("RGB").transpose(Image.Transpose.ROTATE_90).save(
        os.path.join(out, "web", "chelsea_rotated_q30.jpg"), quality=30, exif=exif_orientation(6))
    with open(os.path.join(out, "web", "notes.jpg"), "w") as f:
        f.write("this file is named .jpg but is text\n")
    whole = open(os.path.join(out, "scans", "astronaut_q30.jpg"), "rb").read()
    with open(os.path.join(out, "scans", "astronaut_cut.jpg"), "wb") as f:
        f.write(whole[: len(whole) * 2 // 3])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
