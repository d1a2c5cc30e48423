#!/usr/bin/env bash
# Turns a training checkpoint into a shipped model, measuring everything the manifest and the
# model card state:
#
#   scripts/ship_model.sh PRESET CHECKPOINT [OPTIONS]
#       e.g. scripts/ship_model.sh fast .train/fast/latest.pt
#            scripts/ship_model.sh best .train/best7/m34.pt
# OPTIONS (default training/options/PRESET.yml) names the network the checkpoint holds; its `name`
# must be PRESET. Both presets ship int8 by default: the float export is models/PRESET-float.onnx,
# and step 6 makes PRESET (models/PRESET.json, PRESET-int8.onnx) from it.
#
# 1. Kodak24 at QF 10..70 with PyTorch (training/test.py, the NTIRE 2024 / FBCNN protocol);
# 2. a trial ONNX export, and the tile overlap at which tiled output matches whole-image output
#    to within half a gray level (go test -run TestMeasureOverlap ./gpuworker);
# 3. the export to models/PRESET-float.onnx with that overlap and the Kodak24 table in the manifest;
# 4. the same evaluation through the product path: jpegrestore eval (libjpeg encode, ONNX Runtime,
#    tiling) into .train/PRESET/go-eval/eval.json;
# 5. ONNX Runtime throughput on 2 cores (BenchmarkRawSession with this model);
# 6. the int8 default (scripts/ship_int8.sh): best from best-float, fast from fast-float.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=$1 ckpt=$2
opt=${3:-training/options/$preset.yml}
work=.train/$preset
mkdir -p "$work/trial"
PY=/usr/bin/python3
name=$($PY -c 'import sys; sys.path.insert(0, "."); from training.utils.options import load_options
print(load_options(sys.argv[1])["name"])' "$opt")
[ "$name" = "$preset" ] || { echo "ship_model: $opt is for preset $name, not $preset" >&2; exit 2; }
out=$preset-float int8=$preset

$PY training/test.py -opt "$opt" --ckpt "$ckpt" --json "$work/kodak24.json"
$PY training/export_onnx.py -opt "$opt" --ckpt "$ckpt" --out "$work/trial/$preset.onnx" >/dev/null
JPEGRESTORE_MEASURE_OVERLAP=$PWD/$work/trial/$preset.json \
	go test -count=1 -run TestMeasureOverlap -v ./gpuworker | grep '^overlap' | tee "$work/overlap.txt"
read -r ov diff < <(awk '{g = $5; gsub(/\(/, "", g); if (g + 0 < 0.5) {print $2, $4; exit}}' "$work/overlap.txt")
echo "overlap $ov (max diff $diff)"
$PY training/export_onnx.py -opt "$opt" --ckpt "$ckpt" --out "models/$out.onnx" --name "$out" \
	--eval "$work/kodak24.json" --overlap "$ov" --overlap-max-diff "$diff"
go build -o bin/jpegrestore ./cmd/jpegrestore
bin/jpegrestore eval --quiet --reference ../shared/data/val/kodak24 --qf 10,20,30,40,50,60,70 \
	--model "models/$out.json" --out "$work/go-eval" | tee "$work/go-eval.txt"
JPEGRESTORE_BENCH_MODEL=$PWD/models/$out.json \
	go test -run '^$' -bench 'RawSession' -benchtime 5x ./gpuworker | grep Benchmark | tee "$work/speed.txt"
scripts/ship_int8.sh "$int8"
