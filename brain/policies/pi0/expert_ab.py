"""Same-run A/B of one setting of the fused π0 expert: ``python -m roboos.brain.policies.pi0.expert_ab
--setting NAME --out DIR`` benches the 1-camera chunk with ``fused`` attention at value A, B, A, B, …
(alternating in one process, each its own bench call with the same settings) and writes ``DIR/NAME-ab.json``.

Settings: ``pdl`` (``expert_triton.PDL``, programmatic dependent launch between the fused kernels: on an
H100 it cost 0.2 ms per chunk, so it stays off) and ``attention`` (``fused_expert.ATTENTION``: the key-split
Triton kernel against the compiled math path; 0.24 ms slower per chunk on an H100).
``--tiles DIR/expert-tiles.json`` first installs a tile sweep's winners (``expert_tune``)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from roboos.brain.policies.bench import print_table, run_policy_bench
from roboos.brain.policies.pi0 import expert_triton, fused_expert

VARIANT = "graph_compile_bf16_fused"
SETTINGS: dict[str, tuple[ModuleType, str, tuple[Any, Any]]] = {
    "pdl": (expert_triton, "PDL", (True, False)),
    "attention": (fused_expert, "ATTENTION", ("split", "math")),
}


def fused_p50(bench: dict) -> float | None:
    return next((r.get("p50_ms") for r in bench.get("results", []) if r.get("variant") == VARIANT), None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setting", choices=sorted(SETTINGS), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per bench call")
    ap.add_argument("--pairs", type=int, default=2, help="A/B pairs")
    ap.add_argument("--tiles", type=Path, help="an expert_tune expert-tiles.json whose winners to install first")
    args = ap.parse_args(argv)
    command = "python -m roboos.brain.policies.pi0.expert_ab " + " ".join(argv or sys.argv[1:])
    if args.tiles is not None:
        from roboos.brain.policies.pi0.expert_tune import install

        install(json.loads(args.tiles.read_text())["sweep"])
    module, name, values = SETTINGS[args.setting]
    runs, p50 = {}, {str(v): [] for v in values}
    default = getattr(module, name)
    try:
        for i in range(2 * args.pairs):
            value = values[i % 2]
            setattr(module, name, value)
            bench = run_policy_bench(cameras=(1,), iters=args.iters, eager_iters=1, batch=1, compile=True,
                                     w8a16=False, budget_s=args.budget, attention_impls=("fused",),
                                     compiled_sdpa=False, graph_uncompiled=False, autotune=False,
                                     command=command)
            bench[args.setting] = value
            runs[f"run{i}_{args.setting}_{value}"] = bench
            ms = fused_p50(bench)
            if ms is not None:
                p50[str(value)].append(ms)
            print_table(bench)
            torch.cuda.empty_cache()
    finally:
        setattr(module, name, default)
    summary: dict[str, Any] = {f"{args.setting}_{v}_p50_ms": ms for v, ms in p50.items()}
    a, b = (p50[str(v)] for v in values)
    if a and b:
        summary[f"{values[0]}_minus_{values[1]}_ms"] = round(statistics.median(a) - statistics.median(b), 3)
    print(summary)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.setting}-ab.json").write_text(
        json.dumps({"command": command, "summary": summary, "runs": runs}, indent=2, default=str))


if __name__ == "__main__":
    main()
