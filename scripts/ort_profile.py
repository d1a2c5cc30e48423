#!/usr/bin/env python3
"""Sum ONNX Runtime profiles by operator: where a model's time goes.

    JPEGRESTORE_BENCH_MODEL=$PWD/models/fast.json JPEGRESTORE_BENCH_PROFILE=/tmp/fast \\
        go test -run '^$' -bench 'RawSession/batch1' -benchtime 5x ./gpuworker
    scripts/ort_profile.py /tmp/fast_*.json

For each profile: milliseconds of operator kernels per run, then each operator type's share of that
time and its count per run. Kernel time only (no time between operators); every run in the file counts,
the benchmark's warm-up runs included, so compare shares, and time only between profiles of one sitting.
"""
import collections
import json
import sys


def summarise(path, top=12):
    events = json.load(open(path))
    runs = sum(1 for e in events if e.get("name") == "model_run") or 1
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e.get("args", {}).get("op_name", "?")
            total[op] += e["dur"]
            count[op] += 1
    all_us = sum(total.values())
    lines = [f"{path}: {runs} runs, {all_us / runs / 1000:.1f} ms of kernels per run"]
    for op, us in total.most_common(top):
        lines.append(f"  {op:24s} {us / max(all_us, 1):6.1%}  {count[op] // runs:4d} per run")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        print(summarise(p))
