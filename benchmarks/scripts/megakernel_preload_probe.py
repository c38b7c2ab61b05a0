"""Probe: can one persistent kernel for *all* of π0's expert MLP layers beat a launch per GEMM, if every
program loads the first weights of its next unit before it waits at the grid barrier, or if the tiles come
in by TMA?

Each of the L layers runs o (split-K, fp32 atomics) → gate_up → down (split-K, fp32 atomics) at M = 64; one
unit per program in every phase, so each program knows its next unit's weights before the phase ends.
CUDA-graph timed, µs per layer:

* ``separate``: three launches per layer (the same unit code), 18 layers per graph;
* ``persistent``: one launch for all layers, a grid barrier after each phase;
* ``persistent + preload P``: the same, each program loading the first P columns of K of its next unit
  into registers before it spins at the barrier (the load is in flight while it waits);
* ``tma``: activation and weight tiles loaded through tensor descriptors instead of per-thread loads;
* weights ``resident`` (one weight set for every layer, held in L2) against ``streamed`` (L distinct sets).

``python benchmarks/scripts/megakernel_preload_probe.py [OUT.json]`` (GPU; run with scripts/device_env.sh).
With ``--tiny`` it checks the kernels' arithmetic on small shapes with one program (CPU interpreter too).
Measured on an H100 (benchmarks/results/policy-nvidia-h100-80gb-hbm3-megakernel-preload-probe.json): none
of the variants beats a launch per GEMM (docs/vla.md, seventh round).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch
import triton
import triton.language as tl
from persistent_barrier_probe import _barrier  # the grid barrier (same folder; scripts run from it)


@dataclass(frozen=True)
class Shape:
    """Expert MLP-half dimensions and the unit decomposition (units per phase = programs)."""

    M: int = 64
    W: int = 1024  # width (o output, gate_up input, down output)
    I: int = 2048  # attention inner (o input)
    F: int = 8192  # gate + up (down reads the first F/2 columns)
    BN_A: int = 16
    SA: int = 2  # split-K of o
    BN_B: int = 64
    BN_C: int = 16
    SC: int = 2  # split-K of down
    BK: int = 128

    @property
    def units(self) -> int:
        n = {self.W // self.BN_A * self.SA, self.F // self.BN_B, self.W // self.BN_C * self.SC}
        if len(n) != 1:
            raise ValueError(f"phases have different unit counts: {n}")
        return n.pop()


TINY = Shape(M=16, W=16, I=32, F=32, BN_A=16, SA=1, BN_B=32, BN_C=16, SC=1, BK=16)


@triton.jit
def _preload(w_ptr, K, n0, k0, PRE: tl.constexpr, BN: tl.constexpr):
    ks = k0 + tl.arange(0, PRE)
    cols = n0 + tl.arange(0, BN)
    return tl.load(w_ptr + cols[None, :].to(tl.int64) * K + ks[:, None])


@triton.jit
def _unit(x_ptr, s_x, w_ptr, NW, K, n0, k0, KLEN, w_pre, PRELOAD: tl.constexpr, PRE: tl.constexpr,
          BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, TMA: tl.constexpr):
    """acc[BM, BN] = x[:, k0:k0+KLEN] @ w[n0:n0+BN, k0:k0+KLEN]^T; the first PRE columns come from w_pre."""
    rows = tl.arange(0, BM)
    cols = n0 + tl.arange(0, BN)
    acc = tl.zeros([BM, BN], dtype=tl.float32)
    start = k0
    if PRELOAD:
        ks = k0 + tl.arange(0, PRE)
        a = tl.load(x_ptr + rows[:, None] * s_x + ks[None, :], cache_modifier=".cg")
        acc = tl.dot(a.to(w_pre.dtype), w_pre, acc)
        start = k0 + PRE
    if TMA:  # tensor-memory-accelerator loads: one bulk copy per tile instead of per-thread loads
        xd = tl.make_tensor_descriptor(x_ptr, shape=[BM, s_x], strides=[s_x, 1], block_shape=[BM, BK])
        wd = tl.make_tensor_descriptor(w_ptr, shape=[NW, K], strides=[K, 1], block_shape=[BN, BK])
        for kk in range(start, k0 + KLEN, BK):
            a = xd.load([0, kk])
            w = wd.load([n0, kk])
            acc = tl.dot(a.to(w.dtype), tl.trans(w), acc)
    else:
        for kk in range(start, k0 + KLEN, BK):
            ks = kk + tl.arange(0, BK)
            a = tl.load(x_ptr + rows[:, None] * s_x + ks[None, :], cache_modifier=".cg")
            w = tl.load(w_ptr + cols[None, :].to(tl.int64) * K + ks[:, None])
            acc = tl.dot(a.to(w.dtype), w, acc)
    return acc


@triton.jit
def _zero_slice(y_ptr, pid, ZS: tl.constexpr):
    tl.store(y_ptr + pid * ZS + tl.arange(0, ZS), tl.zeros([ZS], dtype=tl.float32))


@triton.jit
def _phase_a(x, wa, ya, yc, pid, w_pre, PRELOAD: tl.constexpr, PRE: tl.constexpr, M: tl.constexpr,
             W: tl.constexpr, I: tl.constexpr, BN: tl.constexpr, S: tl.constexpr, BK: tl.constexpr,
             ZS: tl.constexpr, TMA: tl.constexpr):
    """o: ya += x @ wa^T over this unit's K slice (ya is zero on entry); zeroes this program's slice of yc."""
    n0 = (pid // S) * BN
    k0 = (pid % S) * (I // S)
    acc = _unit(x, I, wa, W, I, n0, k0, I // S, w_pre, PRELOAD, PRE, M, BN, BK, TMA)
    rows, cols = tl.arange(0, M), n0 + tl.arange(0, BN)
    tl.atomic_add(ya + rows[:, None] * W + cols[None, :], acc, sem="relaxed")
    _zero_slice(yc, pid, ZS)


@triton.jit
def _phase_b(ya, wb, yb, pid, w_pre, PRELOAD: tl.constexpr, PRE: tl.constexpr, M: tl.constexpr,
             W: tl.constexpr, F: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, TMA: tl.constexpr):
    """gate_up: yb = bf16(ya) @ wb^T for this unit's columns (full K)."""
    n0 = pid * BN
    acc = _unit(ya, W, wb, F, W, n0, 0, W, w_pre, PRELOAD, PRE, M, BN, BK, TMA)
    rows, cols = tl.arange(0, M), n0 + tl.arange(0, BN)
    tl.store(yb + rows[:, None] * F + cols[None, :], acc.to(yb.dtype.element_ty))


@triton.jit
def _phase_c(yb, wc, yc, ya, pid, w_pre, PRELOAD: tl.constexpr, PRE: tl.constexpr, M: tl.constexpr,
             W: tl.constexpr, F: tl.constexpr, BN: tl.constexpr, S: tl.constexpr, BK: tl.constexpr,
             ZS: tl.constexpr, TMA: tl.constexpr):
    """down: yc += yb[:, :F/2] @ wc^T over this unit's K slice; zeroes this program's slice of ya."""
    n0 = (pid // S) * BN
    k0 = (pid % S) * (F // 2 // S)
    acc = _unit(yb, F, wc, W, F // 2, n0, k0, F // 2 // S, w_pre, PRELOAD, PRE, M, BN, BK, TMA)
    rows, cols = tl.arange(0, M), n0 + tl.arange(0, BN)
    tl.atomic_add(yc + rows[:, None] * W + cols[None, :], acc, sem="relaxed")
    _zero_slice(ya, pid, ZS)


@triton.jit
def _sep_a(x, wa, ya, yc, M: tl.constexpr, W: tl.constexpr, I: tl.constexpr, BN: tl.constexpr,
           S: tl.constexpr, BK: tl.constexpr, ZS: tl.constexpr, TMA: tl.constexpr):
    _phase_a(x, wa, ya, yc, tl.program_id(0), tl.zeros([BK, BN], wa.dtype.element_ty), False, BK, M, W, I, BN, S, BK, ZS,
             TMA)


@triton.jit
def _sep_b(ya, wb, yb, M: tl.constexpr, W: tl.constexpr, F: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
           TMA: tl.constexpr):
    _phase_b(ya, wb, yb, tl.program_id(0), tl.zeros([BK, BN], wb.dtype.element_ty), False, BK, M, W, F, BN, BK, TMA)


@triton.jit
def _sep_c(yb, wc, yc, ya, M: tl.constexpr, W: tl.constexpr, F: tl.constexpr, BN: tl.constexpr,
           S: tl.constexpr, BK: tl.constexpr, ZS: tl.constexpr, TMA: tl.constexpr):
    _phase_c(yb, wc, yc, ya, tl.program_id(0), tl.zeros([BK, BN], wc.dtype.element_ty), False, BK, M, W, F, BN, S, BK,
             ZS, TMA)


@triton.jit
def _all_layers(x, wa, wb, wc, ya, yb, yc, ctr, L, la, lb, lc, PRELOAD: tl.constexpr,
                PA: tl.constexpr, PB: tl.constexpr, PC: tl.constexpr, M: tl.constexpr, W: tl.constexpr,
                I: tl.constexpr, F: tl.constexpr, BN_A: tl.constexpr, SA: tl.constexpr, BN_B: tl.constexpr,
                BN_C: tl.constexpr, SC: tl.constexpr, BK: tl.constexpr, ZS: tl.constexpr, TMA: tl.constexpr):
    """Every layer's three phases in one launch; la/lb/lc: elements between layers' weights (0: resident)."""
    pid = tl.program_id(0)
    nprog = tl.num_programs(0)
    na, ka = (pid // SA) * BN_A, (pid % SA) * (I // SA)
    nc, kc = (pid // SC) * BN_C, (pid % SC) * (F // 2 // SC)
    if PRELOAD:
        wa_pre = _preload(wa, I, na, ka, PA, BN_A)
    else:
        wa_pre = tl.zeros([PA, BN_A], wa.dtype.element_ty)
    bar = 0
    for layer in range(L):
        _phase_a(x, wa + layer * la, ya, yc, pid, wa_pre, PRELOAD, PA, M, W, I, BN_A, SA, BK, ZS, TMA)
        if PRELOAD:
            wb_pre = _preload(wb + layer * lb, W, pid * BN_B, 0, PB, BN_B)
        else:
            wb_pre = tl.zeros([PB, BN_B], wb.dtype.element_ty)
        bar += 1
        _barrier(ctr, bar * nprog)
        _phase_b(ya, wb + layer * lb, yb, pid, wb_pre, PRELOAD, PB, M, W, F, BN_B, BK, TMA)
        if PRELOAD:
            wc_pre = _preload(wc + layer * lc, F // 2, nc, kc, PC, BN_C)
        else:
            wc_pre = tl.zeros([PC, BN_C], wc.dtype.element_ty)
        bar += 1
        _barrier(ctr, bar * nprog)
        _phase_c(yb, wc + layer * lc, yc, ya, pid, wc_pre, PRELOAD, PC, M, W, F, BN_C, SC, BK, ZS, TMA)
        if PRELOAD:
            wa_pre = _preload(wa + tl.minimum(layer + 1, L - 1) * la, I, na, ka, PA, BN_A)
        bar += 1
        _barrier(ctr, bar * nprog)
    if tl.atomic_add(ctr + 1, 1) == nprog - 1:  # the last program out resets the counters
        tl.atomic_xchg(ctr, 0)
        tl.atomic_xchg(ctr + 1, 0)


class Buffers:
    """Weights (L layers, or one resident set) and activations; ya starts (and ends) zeroed."""

    def __init__(self, s: Shape, layers: int, device: str, dt: torch.dtype = torch.bfloat16) -> None:
        self.s, self.layers = s, layers
        self.wa = torch.randn(layers, s.W, s.I, device=device, dtype=dt) * s.I**-0.5
        self.wb = torch.randn(layers, s.F, s.W, device=device, dtype=dt) * s.W**-0.5
        self.wc = torch.randn(layers, s.W, s.F // 2, device=device, dtype=dt) * (s.F // 2) ** -0.5
        self.x = torch.randn(s.M, s.I, device=device, dtype=dt)
        self.ya = torch.zeros(s.M, s.W, device=device, dtype=torch.float32)
        self.yb = torch.empty(s.M, s.F, device=device, dtype=dt)
        self.yc = torch.zeros(s.M, s.W, device=device, dtype=torch.float32)
        self.ctr = torch.zeros(2, device=device, dtype=torch.int32)

    def reference(self, layer: int) -> torch.Tensor:
        s = self.s
        ya = (self.x.float() @ self.wa[layer].float().T).to(self.x.dtype)
        yb = (ya.float() @ self.wb[layer].float().T).to(self.x.dtype)
        return yb[:, : s.F // 2].float() @ self.wc[layer].float().T


def _kw(s: Shape) -> dict[str, int]:
    return {"M": s.M, "W": s.W, "BK": s.BK}


def separate_layer(b: Buffers, layer: int, warps: int, stages: int, tma: bool = False) -> None:
    s, n = b.s, b.s.units
    zs = s.M * s.W // n
    opt = {"num_warps": warps, "num_stages": stages, "TMA": tma}
    _sep_a[(n,)](b.x, b.wa[layer], b.ya, b.yc, I=s.I, BN=s.BN_A, S=s.SA, ZS=zs, **_kw(s), **opt)
    _sep_b[(n,)](b.ya, b.wb[layer], b.yb, F=s.F, BN=s.BN_B, **_kw(s), **opt)
    _sep_c[(n,)](b.yb, b.wc[layer], b.yc, b.ya, F=s.F, BN=s.BN_C, S=s.SC, ZS=zs, **_kw(s), **opt)


def all_layers(b: Buffers, layers: int, resident: bool, pre: tuple[int, int, int] | None, warps: int,
               stages: int, tma: bool = False) -> None:
    s, n = b.s, b.s.units
    strides = (0, 0, 0) if resident else (b.wa[0].numel(), b.wb[0].numel(), b.wc[0].numel())
    pa, pb, pc = pre or (s.BK, s.BK, s.BK)
    _all_layers[(n,)](b.x, b.wa, b.wb, b.wc, b.ya, b.yb, b.yc, b.ctr, layers, *strides, PRELOAD=pre is not None,
                      PA=pa, PB=pb, PC=pc, I=s.I, F=s.F, BN_A=s.BN_A, SA=s.SA, BN_B=s.BN_B, BN_C=s.BN_C,
                      SC=s.SC, ZS=s.M * s.W // n, TMA=tma, **_kw(s), num_warps=warps, num_stages=stages)


def rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got.float() - ref).norm() / ref.norm())


def check_tiny(device: str) -> dict[str, float]:
    """Both paths on TINY shapes (one program): relative error of the last layer's output (float16: the
    interpreter's bfloat16 dot is wrong)."""
    b = Buffers(TINY, 2, device, torch.float16)
    separate_layer(b, 1, 4, 2)
    out = {"separate": rel_err(b.yc, b.reference(1))}
    for pre in (None, (16, 16, 16)):
        all_layers(b, 2, False, pre, 4, 2)
        out[f"persistent_pre{pre}"] = rel_err(b.yc, b.reference(1))
    out["ya_zeroed"] = float(b.ya.abs().max())
    return out


def main() -> None:
    if "--tiny" in sys.argv:
        print(check_tiny("cuda" if torch.cuda.is_available() else "cpu"))
        return
    if not torch.cuda.is_available():
        sys.exit("GPU only (or --tiny)")
    from roboos.brain.quant.pretune import graph_time_us

    s, layers = Shape(), 18
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    if s.units > sms:
        sys.exit(f"{s.units} units need as many resident programs; this GPU has {sms} SMs")
    b = Buffers(s, layers, "cuda")
    out: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__,
                 "shape": asdict(s), "layers": layers, "tiny_check": check_tiny("cuda"),
                 "weights_mb_per_layer": (b.wa[0].numel() + b.wb[0].numel() + b.wc[0].numel()) * 2 / 1e6,
                 "rows": []}
    ref_last, ref_first = b.reference(layers - 1), b.reference(0)
    triton.set_allocator(lambda size, align, stream: torch.empty(size, device="cuda", dtype=torch.int8))
    # (kind, preload, resident, tma); a register preload of 256+ columns did not compile (shared memory)
    variants = [("separate", None, False, False), ("separate", None, True, False), ("separate", None, False, True),
                ("separate", None, True, True), ("persistent", None, False, False),
                ("persistent", None, True, False), ("persistent", (128, 128, 128), False, False),
                ("persistent", None, False, True), ("persistent", None, True, True)]
    for warps, stages in ((4, 4), (4, 3), (8, 4)):
        for kind, pre, resident, tma in variants:
            row = {"kind": kind, "preload": pre, "resident": resident, "tma": tma, "warps": warps, "stages": stages}
            try:
                if kind == "separate":
                    call = partial(separate_layer, b, warps=warps, stages=stages, tma=tma)
                    call(0)
                    torch.cuda.synchronize()
                    row["err"] = round(rel_err(b.yc, ref_first), 4)
                    us = graph_time_us(lambda i, c=call, r=resident: partial(c, 0 if r else i), layers)
                else:
                    call = partial(all_layers, b, layers, resident, pre, warps, stages, tma)
                    call()
                    torch.cuda.synchronize()
                    row["err"] = round(rel_err(b.yc, ref_first if resident else ref_last), 4)
                    row["counter_clean"] = bool((b.ctr == 0).all())
                    us = graph_time_us(lambda i, c=call: c, 1) / layers
                row["us_per_layer"] = round(us, 2)
            except Exception as exc:  # noqa: BLE001 - a failing variant is recorded, the sweep goes on
                row["error"] = f"{type(exc).__name__}: {str(exc)[-300:]}"
            print(row, flush=True)
            out["rows"].append(row)
    out["command"] = "python benchmarks/scripts/megakernel_preload_probe.py " + " ".join(sys.argv[1:])
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
