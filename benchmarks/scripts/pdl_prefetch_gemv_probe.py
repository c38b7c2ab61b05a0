"""Probe: can programmatic dependent launch hide a small M = 1 W8A16 GEMV's ramp-up behind the previous call?
``python benchmarks/scripts/pdl_prefetch_gemv_probe.py [OUT.json]`` (GPU, sm_90+; run with scripts/device_env.sh).

A chain of 18 dependent GEMVs of the 7B's o shape (3584 ← 3584, int8 weights + per-row scales, x of call
i + 1 = output of call i, 18 distinct weight sets > L2) in one CUDA graph, timed per call, against the
committed table's GEMV (``w8a16_matmul``). The probe kernel loads its whole weight slice (one K tile)
*before* ``gdc_wait`` — no earlier kernel writes weights — so with PDL a call's weight loads can be in flight
while the previous call finishes; ``early`` lets the next kernel launch at the start instead of after the wait.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import torch
import triton
import triton.language as tl
from roboos.brain.quant.bench_kernels import copy_bandwidth
from roboos.brain.quant.ops import w8a16_matmul
from roboos.brain.quant.pretune import graph_time_us
from roboos.brain.quant.reference import quantize_weight
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait


@triton.jit
def _pf_gemv(x_ptr, w_ptr, s_ptr, out_ptr, N, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
             PDL: tl.constexpr, EARLY: tl.constexpr):
    offs_n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    n_ok = offs_n < N
    k_ok = offs_k < K
    if PDL and EARLY:
        gdc_launch_dependents()
    w = tl.load(w_ptr + offs_n[:, None].to(tl.int64) * K + offs_k[None, :], mask=n_ok[:, None] & k_ok[None, :],
                other=0, eviction_policy="evict_first")
    s = tl.load(s_ptr + offs_n, mask=n_ok, other=0.0)
    if PDL:
        gdc_wait()
        if not EARLY:
            gdc_launch_dependents()
    x = tl.load(x_ptr + offs_k, mask=k_ok, other=0.0).to(tl.float32)
    acc = tl.sum(w.to(tl.float32) * x[None, :], axis=1) * s.to(tl.float32)
    tl.store(out_ptr + offs_n, acc.to(out_ptr.dtype.element_ty), mask=n_ok)


def _chain_us(step, x0: torch.Tensor, layers: int) -> float:
    """µs per call of ``x = step(i, x)`` for i = 0 … layers - 1 from ``x0``, in one graph (``graph_time_us``
    captures the calls in order, so each reads the tensor the previous one returned)."""
    state = {"x": x0}

    def call(i: int) -> None:
        state["x"] = step(i, x0 if i == 0 else state["x"])

    return graph_time_us(lambda i: partial(call, i), layers)


def main() -> None:
    if not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0):
        sys.exit("needs an sm_90+ GPU")
    n = k = 3584
    layers = 18
    g = torch.Generator(device="cuda").manual_seed(0)
    qws, scales = [], []
    for _ in range(layers):
        qw, s = quantize_weight(torch.randn(n, k, device="cuda", generator=g, dtype=torch.bfloat16) * k**-0.5)
        qws.append(qw.contiguous())
        scales.append(s.reshape(n).contiguous())
    x0 = torch.randn(1, k, device="cuda", generator=g, dtype=torch.bfloat16)
    copy_gbs = copy_bandwidth()
    bytes_per_call = n * k + n * 2 + k * 2 + n * 2
    floor_us = bytes_per_call / (copy_gbs * 1e9) * 1e6

    def table(i: int, x: torch.Tensor) -> torch.Tensor:
        return w8a16_matmul(x, qws[i], scales[i].view(n, 1))

    def probe(bn: int, warps: int, pdl: bool, early: bool):
        def step(i: int, x: torch.Tensor) -> torch.Tensor:
            out = torch.empty(1, n, device="cuda", dtype=torch.bfloat16)
            _pf_gemv[(triton.cdiv(n, bn),)](x, qws[i], scales[i], out, n, k, BLOCK_N=bn, BLOCK_K=4096, PDL=pdl,
                                             EARLY=early, num_warps=warps, num_stages=1,
                                             **({"launch_pdl": True} if pdl else {}))
            return out
        return step

    ref = x0
    for i in range(layers):
        ref = table(i, ref)
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__,
           "command": "python benchmarks/scripts/pdl_prefetch_gemv_probe.py " + " ".join(sys.argv[1:]),
           "copy_gbs": round(copy_gbs, 1), "floor_us": round(floor_us, 2), "shape": [n, k], "rows": []}
    out["table_us"] = round(_chain_us(table, x0, layers), 2)
    print("table", out["table_us"], "floor", round(floor_us, 2), flush=True)
    for bn, warps in ((1, 2), (1, 4), (2, 4), (2, 8), (4, 8), (4, 4), (4, 16), (8, 8), (8, 16), (16, 16), (16, 32)):
        for pdl, early in ((False, False), (True, False), (True, True)):
            row = {"block_n": bn, "warps": warps, "pdl": pdl, "early": early}
            try:
                step = probe(bn, warps, pdl, early)
                got = x0
                for i in range(layers):
                    got = step(i, got)
                err = float((got.float() - ref.float()).norm() / ref.float().norm())
                row.update(us=round(_chain_us(step, x0, layers), 2), rel_err_vs_table=round(err, 4))
                row["pct_of_copy"] = round(100 * floor_us / row["us"], 1)
            except Exception as exc:  # noqa: BLE001
                row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            print(row, flush=True)
            out["rows"].append(row)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
