#!/usr/bin/env bash
# One training stage on a lent GPU machine, whose calls each carry at most 64 MiB and run at most
# 10 minutes, and which is given back when idle for half a minute. Run from the repository root there;
# the calls follow each other at once:
#
#   training/tools/gpu_stage.sh keep PACK.npz...   copy carried packs to /tmp/packs (one call per pack)
#   training/tools/gpu_stage.sh start [WAIT_S]     start train.py in its own session (it outlives the call)
#                                            on every kept pack and those in $PACKS, then wait up to
#                                            WAIT_S (default 570) for the 4th periodic save
#   training/tools/gpu_stage.sh finish [WAIT_S]    wait for the end
#
# start and finish copy what is ready into $OUT: train.log, val.jsonl, and the periodic saves 2, 3 and
# 4 and the last one as s2, s3, s4 and final, each split into float16 parts under the 16 MiB a file may
# have (`training/tools/ckpt_parts.py join` makes them one float32 checkpoint again). Settings by environment:
#   OPT (training/options/best.yml), INIT (models/best-float.onnx; a .pt or an exported .onnx),
#   MIN (10.5 minutes), DEV (cuda), PY (python3), PACKS (space-separated), and JPEGRESTORE_DATA (the
#   carried folder with the validation images, data/val/kodak24/...).
set -uo pipefail
mode=${1:-start}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
T0=$(date +%s)

bring() {
	for d in /tmp/snaps/*/; do
		[ -f "$d/READY" ] && mkdir -p "$OUT/$(basename "$d")" && cp "$d"/part*.pt "$OUT/$(basename "$d")/"
	done
	cp /tmp/run/train.log /tmp/run/val.jsonl "$OUT/" 2>/dev/null
	ls -la "$OUT" "$OUT"/*/ 2>/dev/null
	tail -5 /tmp/run/train.log 2>/dev/null
}

case $mode in
keep)
	shift
	mkdir -p /tmp/packs
	for p in "$@"; do
		# packs are named pack.npz in folders of their own: keep the folder's name
		cp "$p" "/tmp/packs/$(basename "$(dirname "$p")")-$(basename "$p")" || exit 1
	done
	ls -la /tmp/packs
	exit 0
	;;
start)
	wait_s=${2:-570}
	packs=()
	for p in /tmp/packs/*.npz ${PACKS:-}; do [ -s "$p" ] && packs+=(--packed "$p"); done
	[ ${#packs[@]} -gt 0 ] || { echo "gpu_stage: no packs" >&2; exit 2; }
	echo "packs: ${packs[*]}"
	nvidia-smi -L 2>/dev/null
	$PY -c 'import torch, PIL; print("torch", torch.__version__, "Pillow", PIL.__version__)'
	rm -rf /tmp/run /tmp/snaps
	mkdir -p /tmp/run /tmp/snaps
	# the watcher: each new periodic save n in {2,3,4} becomes /tmp/snaps/s$n
	setsid bash -c '
		seen=""; n=0
		while sleep 3; do
			[ -f /tmp/run/DONE ] && break
			[ -f /tmp/run/latest.pt ] || continue
			m=$(stat -c %Y /tmp/run/latest.pt); [ "$m" = "$seen" ] && continue
			seen=$m; n=$((n + 1))
			case $n in 2|3|4)
				cp /tmp/run/latest.pt /tmp/snap.pt &&
					"$0" training/tools/ckpt_parts.py split /tmp/snap.pt /tmp/snaps/s$n --half >/dev/null &&
					touch /tmp/snaps/s$n/READY;;
			esac
		done' "$PY" >/tmp/run/watch.txt 2>&1 </dev/null &
	setsid bash -c '
		"$0" training/train.py -opt "$1" --device "$2" --init "$3" --minutes "$4" "${@:5}" --out /tmp/run --slim
		echo "rc $?"
		"$0" training/tools/ckpt_parts.py split /tmp/run/latest.pt /tmp/snaps/final --half && touch /tmp/snaps/final/READY
		touch /tmp/run/DONE' "$PY" "${OPT:-training/options/best.yml}" "${DEV:-cuda}" \
		"${INIT:-models/best-float.onnx}" "${MIN:-10.5}" "${packs[@]}" >/tmp/run/stdout.txt 2>&1 </dev/null &
	while [ $(($(date +%s) - T0)) -lt "$wait_s" ] && [ ! -f /tmp/snaps/s4/READY ] && [ ! -f /tmp/run/DONE ]; do
		sleep 2
	done
	;;
finish)
	wait_s=${2:-570}
	while [ $(($(date +%s) - T0)) -lt "$wait_s" ] && [ ! -f /tmp/run/DONE ]; do sleep 2; done
	;;
*)
	echo "usage: training/tools/gpu_stage.sh keep PACK...|start [WAIT_S]|finish [WAIT_S]" >&2
	exit 2
	;;
esac
bring
