"""Evaluate a checkpoint on Kodak24 with the NTIRE 2024 / FBCNN protocol:
python3 training/test.py -opt training/options/fast.yml --ckpt .train/fast/latest.pt [--json out.json].

Each image is compressed by degrade()'s eval mode (Pillow, 4:2:0, one pass) at QF 10..70, restored
whole (reflect-padded to a multiple of 16), and PSNR is measured on RGB uint8, JPEG vs restored.
"""
import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from training.models.jpeg_model import load_eval_net  # noqa: E402
from training.utils.evaluate import EVAL_QFS, evaluate, format_table, load_eval_images  # noqa: E402
from training.utils.options import load_options  # noqa: E402

DEFAULT_VAL = str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "val" / "kodak24")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-opt", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--val", default=DEFAULT_VAL, help="folder of clean validation images")
    ap.add_argument("--qfs", default=",".join(map(str, EVAL_QFS)))
    ap.add_argument("--names", default=None, help="comma-separated image stems (default: all)")
    ap.add_argument("--json", default=None, help="result JSON (default: kodak24.json beside the checkpoint)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    opt = load_options(a.opt)
    net, _ = load_eval_net(a.ckpt, opt, device=a.device)
    qfs = [int(q) for q in a.qfs.split(",")]
    images = load_eval_images(a.val, a.names.split(",") if a.names else None)
    t = time.time()
    table = evaluate(net, images, qfs=qfs, device=a.device)
    print(f"{opt['name']}: {len(images)} images from {a.val}, {time.time() - t:.1f} s")
    print(format_table(table))
    out = pathlib.Path(a.json) if a.json else pathlib.Path(a.ckpt).with_name(f"{pathlib.Path(a.val).name}.json")
    ckpt = torch.load(a.ckpt, map_location="cpu")
    result = {"dataset": pathlib.Path(a.val).name, "images": len(images),
              "protocol": "Pillow libjpeg 4:2:0 single pass; PSNR on RGB uint8",
              "step": int(ckpt.get("step", 0)),
              "table": {str(k): v for k, v in table.items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")

if __name__ == "__main__":
    main()
