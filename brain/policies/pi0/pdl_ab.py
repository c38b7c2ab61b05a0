"""Same-run A/B of programmatic dependent launch in the fused π0 expert (``expert_triton.PDL``):
``python -m roboos.brain.policies.pi0.pdl_ab --out DIR`` benches the 1-camera chunk with ``fused`` attention
with PDL on, off, on, off (alternating in one process, each its own bench call with the same settings) and
writes ``DIR/pdl-ab.json``. Measured on an H100: PDL costs 0.2 ms per chunk, so it stays off by default."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
from roboos.brain.policies.bench import print_table, run_policy_bench
from roboos.brain.policies.pi0 import expert_triton

VARIANT = "graph_compile_bf16_fused"


def fused_p50(bench: dict) -> float | None:
    return next((r.get("p50_ms") for r in bench.get("results", []) if r.get("variant") == VARIANT), None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per bench call")
    ap.add_argument("--pairs", type=int, default=2, help="on/off pairs")
    args = ap.parse_args(argv)
    command = "python -m roboos.brain.policies.pi0.pdl_ab " + " ".join(argv or sys.argv[1:])
    runs, p50 = {}, {True: [], False: []}
    default = expert_triton.PDL
    try:
        for i in range(2 * args.pairs):
            pdl = i % 2 == 0
            expert_triton.PDL = pdl
            bench = run_policy_bench(cameras=(1,), iters=args.iters, eager_iters=1, batch=1, compile=True,
                                     w8a16=False, budget_s=args.budget, attention_impls=("fused",),
                                     compiled_sdpa=False, graph_uncompiled=False, autotune=False,
                                     command=command)
            bench["pdl"] = pdl
            runs[f"run{i}_pdl_{'on' if pdl else 'off'}"] = bench
            ms = fused_p50(bench)
            if ms is not None:
                p50[pdl].append(ms)
            print_table(bench)
            torch.cuda.empty_cache()
    finally:
        expert_triton.PDL = default
    summary = {"pdl_on_p50_ms": p50[True], "pdl_off_p50_ms": p50[False]}
    if p50[True] and p50[False]:
        summary["on_minus_off_ms"] = round(statistics.median(p50[True]) - statistics.median(p50[False]), 3)
    print(summary)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pdl-ab.json").write_text(json.dumps({"command": command, "summary": summary, "runs": runs},
                                                     indent=2, default=str))


if __name__ == "__main__":
    main()
