#!/usr/bin/env bash
# One device call for the second performance round (docs/w8a16.md, docs/vla.md): the M = 1 GEMV sweep
# (bench_gemv2) and the π0 attention variants (math, memory-efficient SDPA) of the policy benchmark.
# Usage on the device, from the repository root:  bash brain/quant/device_perf2.sh "$OUT"
set -o pipefail
out="$(cd "${1:?output folder}" && pwd)"
source scripts/device_env.sh
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv > "$out/nvidia-smi.txt" 2>&1
(cd /tmp && timeout 115 python3 -m roboos.brain.quant.bench_gemv2 --out "$out" --budget 85) 2>&1 | tee "$out/gemv2.log"
(cd /tmp && timeout 170 python3 -m roboos.brain.policies.bench --cameras 1 --compile --no-w8a16 --no-compiled-sdpa \
    --efficient-attention --iters 30 --eager-iters 5 --budget 110 --out "$out/policy-attn.json") 2>&1 \
    | grep -v "^USDT" | tee "$out/policy.log"
