"""Probe: what one persistent kernel with grid barriers saves over separate launches, for π0's expert MLP
half (o → gate_up → down at M = 50, weights streamed from HBM). Same tile code in both; CUDA-graph timed.

``python benchmarks/scripts/persistent_barrier_probe.py [OUT.json]`` (GPU; run with scripts/device_env.sh). Measured on an
H100 (benchmarks/results/policy-nvidia-h100-80gb-hbm3-persistent-barrier-probe.json): the persistent kernel is
slower than three launches, so the fused expert keeps one kernel per GEMM."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import torch
import triton
import triton.language as tl
from roboos.brain.quant.pretune import graph_time_us


@triton.jit
def _tile(x_ptr, w_ptr, y_ptr, K, N, s_x, t, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rows = tl.arange(0, BLOCK_M)
    cols = t * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        a = tl.load(x_ptr + rows[:, None] * s_x + ks[None, :], cache_modifier=".cg")
        w = tl.load(w_ptr + cols[None, :].to(tl.int64) * K + ks[:, None])
        acc += tl.dot(a, w)
    tl.store(y_ptr + rows[:, None] * N + cols[None, :], acc.to(y_ptr.dtype.element_ty))


@triton.jit
def _one(x_ptr, w_ptr, y_ptr, K, N, s_x, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    _tile(x_ptr, w_ptr, y_ptr, K, N, s_x, tl.program_id(0), BLOCK_M, BLOCK_N, BLOCK_K)


@triton.jit
def _barrier(ctr_ptr, target):
    tl.debug_barrier()
    tl.atomic_add(ctr_ptr, 1, sem="release")
    while tl.atomic_add(ctr_ptr, 0, sem="acquire") < target:
        pass
    tl.debug_barrier()


@triton.jit
def _three(x_ptr, wa, wb, wc, ya, yb, yc, ctr_ptr, W, F, I,
           BLOCK_M: tl.constexpr, BN_A: tl.constexpr, BN_B: tl.constexpr, BN_C: tl.constexpr,
           BLOCK_K: tl.constexpr):
    pid = tl.program_id(0)
    nprog = tl.num_programs(0)
    for t in range(pid, W // BN_A, nprog):  # o: (M, I) → (M, W)
        _tile(x_ptr, wa, ya, I, W, I, t, BLOCK_M, BN_A, BLOCK_K)
    _barrier(ctr_ptr, nprog)
    for t in range(pid, F // BN_B, nprog):  # gate_up: (M, W) → (M, F)
        _tile(ya, wb, yb, W, F, W, t, BLOCK_M, BN_B, BLOCK_K)
    _barrier(ctr_ptr, 2 * nprog)
    for t in range(pid, W // BN_C, nprog):  # down: the first F/2 columns of the gate_up output → (M, W)
        _tile(yb, wc, yc, F // 2, W, F, t, BLOCK_M, BN_C, BLOCK_K)
    # the last program out resets the counter for the next launch
    if tl.atomic_add(ctr_ptr + 1, 1) == nprog - 1:
        tl.atomic_xchg(ctr_ptr, 0)
        tl.atomic_xchg(ctr_ptr + 1, 0)


def _separate(x, wa, wb, wc, ya, yb, yc, dims, tiles, kw) -> None:
    """The three GEMMs as three launches (one program per output tile)."""
    W, I, F, M = dims
    bna, bnb, bnc, bk = tiles
    _one[(W // bna,)](x, wa, ya, I, W, I, BLOCK_M=M, BLOCK_N=bna, BLOCK_K=bk, **kw)
    _one[(F // bnb,)](ya, wb, yb, W, F, W, BLOCK_M=M, BLOCK_N=bnb, BLOCK_K=bk, **kw)
    _one[(W // bnc,)](yb, wc, yc, F // 2, W, F, BLOCK_M=M, BLOCK_N=bnc, BLOCK_K=bk, **kw)


def _persistent(x, wa, wb, wc, ya, yb, yc, ctr, dims, tiles, kw, grid) -> None:
    W, I, F, M = dims
    bna, bnb, bnc, bk = tiles
    _three[(grid,)](x, wa, wb, wc, ya, yb, yc, ctr, W, F, I, BLOCK_M=M, BN_A=bna, BN_B=bnb, BN_C=bnc, BLOCK_K=bk, **kw)


def _separate_layer(x, wa, wb, wc, ya, yb, yc, dims, tiles, kw, i) -> None:
    _separate(x, wa[i], wb[i], wc[i], ya, yb, yc, dims, tiles, kw)


def _persistent_layer(x, wa, wb, wc, ya, yb, yc, ctr, dims, tiles, kw, grid, i) -> None:
    _persistent(x, wa[i], wb[i], wc[i], ya, yb, yc, ctr, dims, tiles, kw, grid)


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("GPU only")
    dev, dt, L = "cuda", torch.bfloat16, 18
    W, I, F = 1024, 2048, 8192  # expert width, attention inner, 2 × mlp
    M = 64
    wa = [torch.randn(W, I, device=dev, dtype=dt) * I**-0.5 for _ in range(L)]
    wb = [torch.randn(F, W, device=dev, dtype=dt) * W**-0.5 for _ in range(L)]
    wc = [torch.randn(W, F // 2, device=dev, dtype=dt) * (F // 2) ** -0.5 for _ in range(L)]
    x = torch.randn(M, I, device=dev, dtype=dt)
    ya, yb, yc = (torch.empty(M, n, device=dev, dtype=dt) for n in (W, F, W))
    ctr = torch.zeros(2, device=dev, dtype=torch.int32)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__, "rows": []}
    ref = ((x.float() @ wa[0].float().T).to(dt).float() @ wb[0].float().T).to(dt)[:, : F // 2].float() @ wc[0].float().T
    for bna, bnb, bnc, bk, warps, stages in [(16, 32, 16, 128, 4, 4), (8, 32, 8, 128, 4, 4), (16, 64, 16, 128, 4, 3),
                                             (16, 32, 16, 64, 4, 5), (16, 32, 16, 128, 8, 4)]:
        kw = {"num_warps": warps, "num_stages": stages}
        dims, tiles = (W, I, F, M), (bna, bnb, bnc, bk)
        sep = partial(_separate_layer, x, wa, wb, wc, ya, yb, yc, dims, tiles, kw)
        row = {"bn": [bna, bnb, bnc], "bk": bk, "warps": warps, "stages": stages}
        try:
            sep(0)
            e_sep = float((yc.float() - ref).norm() / ref.norm())
            row["separate_us"] = round(graph_time_us(lambda i, sep=sep: partial(sep, i), L), 2)
            k = _three.warmup(x, wa[0], wb[0], wc[0], ya, yb, yc, ctr, W, F, I, BLOCK_M=M, BN_A=bna, BN_B=bnb,
                              BN_C=bnc, BLOCK_K=bk, grid=(sms,), **kw)
            k._init_handles()
            shared, regs = k.metadata.shared, k.n_regs
            per_sm = min(228 * 1024 // max(1, shared + 1024), 65536 // max(1, regs * warps * 32))
            row.update(shared=shared, regs=regs, ctas_per_sm=per_sm)
            for grid in [g for g in (sms, 2 * sms) if g <= per_sm * sms]:  # all programs resident: no deadlock
                per = partial(_persistent_layer, x, wa, wb, wc, ya, yb, yc, ctr, dims, tiles, kw, grid)
                yc.zero_()
                per(0)
                torch.cuda.synchronize()
                e_per = float((yc.float() - ref).norm() / ref.norm())
                row[f"persistent_grid{grid}_us"] = round(graph_time_us(lambda i, per=per: partial(per, i), L), 2)
                row[f"persistent_grid{grid}_err"] = round(e_per, 4)
            row["separate_err"] = round(e_sep, 4)
            row["counter_clean"] = bool((ctr == 0).all())
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        print(row, flush=True)
        out["rows"].append(row)
    mb = sum(t.numel() * 2 for t in (wa[0], wb[0], wc[0])) / 1e6
    out["weights_mb_per_layer"] = mb
    out["command"] = "python benchmarks/scripts/persistent_barrier_probe.py " + " ".join(sys.argv[1:])
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}))
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
