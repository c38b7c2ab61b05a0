#!/usr/bin/env bash
# One device call of the third performance round (docs/w8a16.md, docs/vla.md): the small-M W8A16 GEMM sweep
# (bench_gemm_small: π0 expert at M = 50, 7B at M = 4/16/64), its winners installed as this copy's kernel table,
# then the π0 variants: compiled bf16 with math / fused-Triton attention and the W8A16 expert.
# Usage on the device, from the repository root:  bash brain/quant/device_perf3.sh "$OUT" [policy bench args]
set -o pipefail
out="$(cd "${1:?output folder}" && pwd)"
shift
source scripts/device_env.sh
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv > "$out/nvidia-smi.txt" 2>&1
start=$SECONDS
(cd /tmp && timeout 260 python3 -m roboos.brain.quant.bench_gemm_small --out "$out" --budget 210) 2>&1 \
    | tee "$out/gemm-small.log"
slug=$(python3 -c "import re,torch; print(re.sub('[^a-z0-9]+','-',torch.cuda.get_device_name(0).lower()).strip('-'))")
if [ -s "$out/kernel-table.json" ]; then cp "$out/kernel-table.json" "configs/kernels/$slug.json"; fi
left=$((570 - (SECONDS - start)))
(cd /tmp && timeout "$left" python3 -m roboos.brain.policies.bench --cameras 1 --compile --no-compiled-sdpa \
    --no-graph --no-autotune --w8a16-expert-only --iters 30 --eager-iters 5 --budget $((left - 80)) \
    --out "$out/policy.json" "$@") 2>&1 | grep -v "^USDT" | tee "$out/policy.log"
