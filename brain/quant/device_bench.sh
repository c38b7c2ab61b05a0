#!/usr/bin/env bash
# One GPU-machine call for W8A16 (see docs/w8a16.md): install the carried FlagGems wheels (optional), map the
# roboos.* imports, then run the benchmark (checks, copy bandwidth, PreTune, kernel timings, end to end).
# Usage on the device, from the repository root:  bash brain/quant/device_bench.sh "$OUT" [bench args...]
set -o pipefail
out="${1:?output folder}"; shift
if ls .whl_w8a16/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/w8a16_site \
        .whl_w8a16/*.whl && export PYTHONPATH="/tmp/w8a16_site${PYTHONPATH:+:$PYTHONPATH}"
fi
source scripts/device_env.sh
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv > "$out/nvidia-smi.txt" 2>&1
out="$(cd "$out" && pwd)"
(cd /tmp && python3 -m roboos.brain.quant.bench --out "$out" "$@") 2>&1 | tee "$out/bench.log"   # not from the repo root: its roboos/ would shadow the mapping
