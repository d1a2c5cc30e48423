#!/usr/bin/env bash
# Makes and measures the int8 QDQ copy of a shipped float model, and ships it:
#
#   scripts/ship_int8.sh PRESET      PRESET: best (from best-float) or fast (from fast-float); both
#                                    presets ship int8 by default
#
# 1. training/tools/quantize_int8.py with the calibration chosen for NAME, the int8 section of
#    training/options/NAME.yml (models/best.md and models/fast.md, Int8, say how it was chosen), into
#    .train/int8/ship/;
# 2. its tiled-vs-whole-image difference at each overlap (go test -run TestMeasureOverlap
#    ./gpuworker). It keeps the float model's overlap: int8 rounding turns the tiny differences a
#    tile edge makes within the receptive field (232 px for best) into flipped codes, so the
#    test's worst pixel differs by about 2.5 gray levels at any overlap up to 320, and only an
#    overlap of the whole field would make tiles agree (models/best.md, Int8, gives the effect);
# 3. Kodak24 at QF 10..70 through jpegrestore eval, beside the float model's, into the manifest's
#    psnr table (the same protocol as scripts/ship_model.sh step 4);
# 4. the files to models/: the .onnx, the manifest NAME.json and parity vectors made by ONNX
#    Runtime (go test -run TestWriteParity ./gpuworker; int8 arithmetic is not PyTorch's);
# 5. the restore speed of a 4000×3000 image (BenchmarkRestore/ensemble-1), int8 and float alternated.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/ship_int8.sh best|fast}
case $name in
best) float=best-float preset=best ;;
fast) float=fast-float preset=fast ;;
*) echo "ship_int8: no calibration chosen for $name (best or fast)" >&2; exit 2 ;;
esac
work=.train/int8/ship/$name file=$preset-int8
mkdir -p "$work"
PY=/usr/bin/python3
export JPEGRESTORE_ORT_LIB=${JPEGRESTORE_ORT_LIB:-$PWD/.deps/onnxruntime/libonnxruntime.so.1}

$PY training/tools/quantize_int8.py -opt "training/options/$preset.yml" --model "models/$float.onnx" \
	--out "$work/$file.onnx" --name "$name" --from-options
JPEGRESTORE_MEASURE_OVERLAP=$PWD/$work/$file.json \
	go test -count=1 -run TestMeasureOverlap -v ./gpuworker | grep '^overlap' | tee "$work/overlap.txt"
ov=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["overlap"])' "models/$float.json")
diff=$(awk -v ov="$ov" '$2 == ov {print $4}' "$work/overlap.txt")
echo "overlap $ov, the float model's (max diff $diff)"
$PY - "$work/$file.json" "$ov" "$diff" <<'PY'
import json, sys
path, ov, diff = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
m = json.load(open(path))
m.update(overlap=ov, overlap_max_diff=diff)
open(path, "w").write(json.dumps(m, indent=2) + "\n")
PY
go build -o bin/jpegrestore ./cmd/jpegrestore
for m in "$work/$file.json" "models/$float.json"; do
	bin/jpegrestore eval --quiet --reference ../shared/data/val/kodak24 --qf 10,20,30,40,50,60,70 \
		--model "$m" --out "$work/eval-$(basename "$m" .json)" >/dev/null
done
$PY - "$work/$file.json" "$work/eval-$file/eval.json" "$work/eval-$float/eval.json" <<'PY'
import json, sys
path, mine, theirs = sys.argv[1:]
rows = {r["qf"]: r["ref"] for r in json.load(open(mine))["rows"]}
base = {r["qf"]: r["ref"] for r in json.load(open(theirs))["rows"]}
table = {}
print("QF   jpeg    int8    float   int8-float (dB, Kodak24, jpegrestore eval)")
for qf, r in sorted(rows.items()):
    jpeg, after, fl = r["psnr_before"]["mean"], r["psnr_after"]["mean"], base[qf]["psnr_after"]["mean"]
    table[str(qf)] = {"jpeg": jpeg, "restored": after, "gain": after - jpeg,
                      "ssim": r["ssim_after"]["mean"], "psnrb": r["psnrb_after"]["mean"]}
    print(f"{qf:3d}  {jpeg:.3f}  {after:.3f}  {fl:.3f}  {after - fl:+.3f}")
m = json.load(open(path))
m["psnr"] = {"dataset": "kodak24", "images": r["psnr_after"]["n"],
             "protocol": "jpegrestore eval: libjpeg baseline 4:2:0 at the IJG tables, ONNX Runtime, default tile; PSNR on RGB uint8",
             "table": table}
open(path, "w").write(json.dumps(m, indent=2) + "\n")
PY
cp "$work/$file.onnx" "models/$file.onnx"
cp "$work/$file.json" "models/$name.json"
JPEGRESTORE_WRITE_PARITY=$PWD/models/$name.json JPEGRESTORE_PARITY_INPUT=$PWD/models/$float.parity.json \
	go test -count=1 -run TestWriteParity -v ./gpuworker | grep -v '^=== \|^--- \|^PASS\|^ok'
for i in 1 2; do
	for m in "models/$name.json" "models/$float.json"; do
		JPEGRESTORE_BENCH_MODEL=$PWD/$m go test -run '^$' -bench 'Restore/ensemble-1$' -benchtime 1x ./gpuworker |
			grep Benchmark | sed "s#^#$m #"
	done
done | tee "$work/speed.txt"
