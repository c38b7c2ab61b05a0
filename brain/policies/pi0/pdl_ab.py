"""Same-run A/B of programmatic dependent launch in the fused π0 expert (``expert_triton.PDL``):
``python -m roboos.brain.policies.pi0.pdl_ab --out DIR`` benches the 1-camera chunk with ``math`` attention,
then ``fused`` with PDL on and off, each in its own bench call with the same settings, and writes
``DIR/pdl-ab.json``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from roboos.brain.policies.bench import print_table, run_policy_bench
from roboos.brain.policies.pi0 import expert_triton


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--budget", type=float, default=100.0)
    args = ap.parse_args(argv)
    command = "python -m roboos.brain.policies.pi0.pdl_ab " + " ".join(argv or sys.argv[1:])
    runs = {}
    default = expert_triton.PDL
    for name, impls, pdl in (("math_and_fused_pdl_on", ("math", "fused"), True), ("fused_pdl_off", ("fused",), False)):
        expert_triton.PDL = pdl
        bench = run_policy_bench(cameras=(1,), iters=args.iters, eager_iters=2, batch=1, compile=True, w8a16=False,
                                 budget_s=args.budget, attention_impls=impls,
                                 compiled_sdpa=False, graph_uncompiled=False, autotune=False, command=command)
        bench["pdl"] = pdl
        runs[name] = bench
        print_table(bench)
        torch.cuda.empty_cache()
    expert_triton.PDL = default
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pdl-ab.json").write_text(json.dumps({"command": command, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
