"""Fused Triton kernels for π0's action-expert layers (``attention="fused"``): four GEMM kernels per layer
instead of ~15 small kernels.

Per Euler step each of the 18 expert layers runs 50 action tokens (M = 50 per batch element) through
weights of 34.6 MB, so each step is bound by kernel count and weight streaming, not arithmetic. The
kernels here parallelise over the output columns (one ``BLOCK_M = 64`` tile holds M = 50) so that many
programs stream weights at once, and fold the small ops into the GEMMs:

* :func:`qkv_rope` — the fused q/k/v GEMM of the pre-scaled bf16 activations ``x·(1 + w)`` (written by the
  preceding residual kernel, see below), the per-row ``rsqrt(mean x² + eps)`` of Gemma's RMSNorm and rotary
  in the epilogue (the activations load straight through the software pipeline): each program owns ``BLOCK_N`` columns of a head's first half and the matching
  columns of its second half, so ``rotate_half`` needs no exchange. Queries land token-major (the folded
  layout attention reads), keys and values go straight into the tail rows of the per-layer key/value
  buffers that already hold the cached prefix (no concatenation per step).
* :func:`gate_up_gelu` — the same, gate and up columns paired in one program and ``gelu_tanh(gate) · up``
  in the epilogue (writes only the 50 × 4096 product).
* :func:`gemm_residual` — ``h += x Wᵀ`` into the fp32 residual stream (o-projection, down-projection), with
  an optional split over K through fp32 atomics to fill the SMs when N is small. With ``norm=`` (a
  :class:`NormOut`) it also writes the next RMSNorm's inputs: ``bf16(h · (1 + w))`` and each row's sum of
  squares of its ``BLOCK_N`` columns (partials; the consumer adds them). Under split-K the last program of
  a tile to finish (a per-tile counter) does this once the tile's sum is complete.
* :func:`rms_prep` — the same two outputs from an fp32 ``h`` on its own (the first layer of a step).

Because ``rsqrt(mean x²)`` is one scalar per row it commutes with the GEMM, so this is exact up to where
bf16 rounding happens. :func:`norm_qkv_rope` / :func:`norm_gate_up_gelu` keep the previous form (the norm
in the GEMM prologue, reading the fp32 stream) for comparison. The residual stream stays float32 between
kernels (the reference rounds it to bf16 after each residual).

W8A16: the pre-normed kernels and :func:`gemm_residual` also take int8 weights with one scale per output
channel (``scale=``). Each weight tile is converted to the activations' dtype as it is used, which is exact,
and the scales multiply the accumulators before the epilogue.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

try:  # Triton is optional: without it the expert runs the PyTorch layers.
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001  # pragma: no cover - depends on the environment
    triton = None
    tl = None
try:  # grid dependency control (programmatic dependent launch, sm_90+), Triton 3.3+
    from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait
except Exception:  # noqa: BLE001  # pragma: no cover - depends on the Triton version
    gdc_launch_dependents = gdc_wait = None


class ExpertKernelError(ValueError):
    """Inputs the fused expert kernels cannot run."""


@dataclass(frozen=True)
class Tiles:
    """Launch shape of one kernel: output columns per program, K tile, K splits, warps, pipeline stages."""

    block_n: int
    block_k: int
    split_k: int = 1
    warps: int = 4
    stages: int = 3


# Defaults per kernel; tuned graph-timed on an H100 (see docs/vla.md). Overridable for sweeps.
# "qkv" / "gate_up": the pre-normed kernels (fifth round's sweep: 6.0 / 8.7 µs per call); "*_norm": the
# norm-in-prologue kernels (fourth round: 11.3 / 14.9 µs).
TILES: dict[str, Tiles] = {
    "qkv": Tiles(16, 128, 1, 4, 4),
    "o": Tiles(16, 128, 2, 4, 5),
    "gate_up": Tiles(32, 128, 1, 4, 4),
    "down": Tiles(16, 128, 2, 4, 5),
    "qkv_norm": Tiles(16, 64, 1, 4, 4),
    "gate_up_norm": Tiles(32, 64, 1, 4, 4),
}

if triton is not None:

    @triton.jit
    def _gelu_tanh(x):
        # 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), tanh through exp (no libdevice under the interpreter)
        y = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        t = 1.0 - 2.0 / (tl.exp(2.0 * y) + 1.0)
        return 0.5 * x * (1.0 + t)

    @triton.jit
    def _pdl_start(PDL: tl.constexpr):
        """With programmatic dependent launch: let the next kernel launch now (its blocks wait in their own
        ``_pdl_start``), then wait until the previous kernel's writes are visible. Before this point a kernel
        touches nothing another kernel writes, so launch latency and ramp-up overlap the previous tail."""
        if PDL:
            gdc_launch_dependents()
            gdc_wait()

    @triton.jit
    def _norm_pair_kernel(x_ptr, nw_ptr, w_ptr, s_ptr, cos_ptr, sin_ptr, o1_ptr, o2_ptr, o3_ptr, ss_ptr,
                          M, K, T, OFF, eps, P,
                          s_o1, s_o2b, s_o2t, s_o3b, s_o3t, s_cs,
                          HALF: tl.constexpr, GROUP: tl.constexpr, NQ: tl.constexpr, ROPE: tl.constexpr,
                          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                          UPCAST: tl.constexpr, PRENORM: tl.constexpr, BLOCK_P: tl.constexpr,
                          SCALED: tl.constexpr, PDL: tl.constexpr):
        """Paired-column GEMM + norm + (rotary | GELU·mul). ``PRENORM``: ``x`` is bf16 ``x·(1 + w)`` and
        ``ss_ptr`` (M, P) holds partial row sums of squares; else ``x`` is the fp32 stream, normed here.
        ``SCALED`` (pre-normed only): int8 weights, converted to the activations' dtype as they are used, and
        per-output-channel scales ``s_ptr`` applied to the accumulators (W8A16)."""
        _pdl_start(PDL)
        pid_m = tl.program_id(0)
        pb = tl.program_id(1)
        per_group: tl.constexpr = HALF // BLOCK_N
        g = pb // per_group
        j = (pb % per_group) * BLOCK_N + tl.arange(0, BLOCK_N)  # column inside the group's first half
        c1 = g * GROUP + j
        c2 = c1 + HALF
        rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        r_ok = rows < M
        rows64 = rows.to(tl.int64)
        acc1 = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        acc2 = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        ss = tl.zeros([BLOCK_M], dtype=tl.float32)
        x_rows = x_ptr + rows64[:, None] * K
        if PRENORM:  # bf16 activations, loaded straight through the software pipeline
            ps = tl.arange(0, BLOCK_P)  # the row sums of squares: loaded first, their latency hides in the loop
            part = tl.load(ss_ptr + rows64[:, None] * P + ps[None, :], mask=r_ok[:, None] & (ps < P)[None, :],
                           other=0.0)
            ss = tl.sum(part, axis=1)
            for k0 in range(0, K, BLOCK_K):
                ks = k0 + tl.arange(0, BLOCK_K)
                a = tl.load(x_rows + ks[None, :], mask=r_ok[:, None], other=0.0)
                w1 = tl.load(w_ptr + c1[None, :].to(tl.int64) * K + ks[:, None])
                w2 = tl.load(w_ptr + c2[None, :].to(tl.int64) * K + ks[:, None])
                if UPCAST:  # CPU interpreter: its bf16 dot is wrong
                    acc1 += tl.dot(a.to(tl.float32), w1.to(tl.float32))
                    acc2 += tl.dot(a.to(tl.float32), w2.to(tl.float32))
                else:
                    acc1 += tl.dot(a, w1.to(a.dtype))  # a no-op unless SCALED (int8 → exact in bf16)
                    acc2 += tl.dot(a, w2.to(a.dtype))
            if SCALED:
                acc1 = acc1 * tl.load(s_ptr + c1).to(tl.float32)[None, :]
                acc2 = acc2 * tl.load(s_ptr + c2).to(tl.float32)[None, :]
        else:
            # the fp32 stream goes through registers (norm), which the software pipeline does not cover: load
            # the next K tile one iteration ahead so its L2 latency hides behind this tile's weights and dots
            x = tl.load(x_rows + tl.arange(0, BLOCK_K)[None, :], mask=r_ok[:, None], other=0.0).to(tl.float32)
            nw = tl.load(nw_ptr + tl.arange(0, BLOCK_K)).to(tl.float32)
            for k0 in range(0, K, BLOCK_K):
                ks = k0 + tl.arange(0, BLOCK_K)
                nks = ks + BLOCK_K
                x_next = tl.load(x_rows + nks[None, :], mask=r_ok[:, None] & (nks < K)[None, :], other=0.0)
                nw_next = tl.load(nw_ptr + nks, mask=nks < K, other=0.0)
                ss += tl.sum(x * x, axis=1)
                a = x * (1.0 + nw)[None, :]
                w1 = tl.load(w_ptr + c1[None, :].to(tl.int64) * K + ks[:, None])
                w2 = tl.load(w_ptr + c2[None, :].to(tl.int64) * K + ks[:, None])
                if UPCAST:  # CPU interpreter: its bf16 dot is wrong
                    a = a.to(w1.dtype).to(tl.float32)
                    acc1 += tl.dot(a, w1.to(tl.float32))
                    acc2 += tl.dot(a, w2.to(tl.float32))
                else:
                    a = a.to(w1.dtype)
                    acc1 += tl.dot(a, w1)
                    acc2 += tl.dot(a, w2)
                x = x_next.to(tl.float32)
                nw = nw_next.to(tl.float32)
        r = 1.0 / tl.sqrt(ss / K + eps)
        acc1 = acc1 * r[:, None]
        acc2 = acc2 * r[:, None]
        if ROPE:
            cs = rows64[:, None] * s_cs + j[None, :]
            cos = tl.load(cos_ptr + cs, mask=r_ok[:, None], other=0.0)
            sin = tl.load(sin_ptr + cs, mask=r_ok[:, None], other=0.0)
            rot = (g <= NQ).to(tl.float32)  # the value head (g = NQ + 1) is not rotated
            cos = rot * cos + (1.0 - rot)
            sin = rot * sin
            out1 = acc1 * cos - acc2 * sin
            out2 = acc2 * cos + acc1 * sin
            b = rows64 // T
            t = rows64 % T
            if g < NQ:
                p1 = o1_ptr + rows64[:, None] * s_o1 + c1[None, :]
            elif g == NQ:
                p1 = o2_ptr + (b * s_o2b + (OFF + t) * s_o2t)[:, None] + j[None, :]
            else:
                p1 = o3_ptr + (b * s_o3b + (OFF + t) * s_o3t)[:, None] + j[None, :]
            tl.store(p1, out1.to(o1_ptr.dtype.element_ty), mask=r_ok[:, None])
            tl.store(p1 + HALF, out2.to(o1_ptr.dtype.element_ty), mask=r_ok[:, None])
        else:  # gate | up: gelu_tanh(gate) * up
            out = _gelu_tanh(acc1) * acc2
            tl.store(o1_ptr + rows64[:, None] * s_o1 + j[None, :], out.to(o1_ptr.dtype.element_ty),
                     mask=r_ok[:, None])

    @triton.jit
    def _emit_norm_inputs(hn, nw_ptr, xn_ptr, ss_ptr, rows64, cols, r_ok, N, P, pid_n):
        """Next RMSNorm's inputs from a final fp32 residual tile: ``bf16(h·(1 + w))`` and row-sum partials."""
        nw = tl.load(nw_ptr + cols).to(tl.float32)
        tl.store(xn_ptr + rows64[:, None] * N + cols[None, :], (hn * (1.0 + nw)[None, :]).to(xn_ptr.dtype.element_ty),
                 mask=r_ok[:, None])
        tl.store(ss_ptr + rows64 * P + pid_n, tl.sum(hn * hn, axis=1), mask=r_ok)

    @triton.jit
    def _gemm_residual_kernel(x_ptr, w_ptr, s_ptr, h_ptr, M, K, N, s_x,
                              nw_ptr, xn_ptr, ss_ptr, cnt_ptr,
                              BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                              SPLIT_K: tl.constexpr, UPCAST: tl.constexpr, EMIT: tl.constexpr,
                              SCALED: tl.constexpr, PDL: tl.constexpr):
        _pdl_start(PDL)
        pid_m = tl.program_id(0)
        pid_n = tl.program_id(1)
        pid_k = tl.program_id(2)
        rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        r_ok = rows < M
        rows64 = rows.to(tl.int64)
        cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        k_len = K // SPLIT_K
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        for k0 in range(pid_k * k_len, (pid_k + 1) * k_len, BLOCK_K):
            ks = k0 + tl.arange(0, BLOCK_K)
            x = tl.load(x_ptr + rows64[:, None] * s_x + ks[None, :], mask=r_ok[:, None], other=0.0)
            w = tl.load(w_ptr + cols[None, :].to(tl.int64) * K + ks[:, None])
            if UPCAST:
                acc += tl.dot(x.to(tl.float32), w.to(tl.float32))
            else:
                acc += tl.dot(x, w.to(x.dtype))  # a no-op unless SCALED (int8 → exact in bf16)
        if SCALED:  # per-output-channel scales (W8A16); linear, so each split-K partial takes them
            acc = acc * tl.load(s_ptr + cols).to(tl.float32)[None, :]
        hp = h_ptr + rows64[:, None] * N + cols[None, :]
        P = tl.num_programs(1)
        if SPLIT_K == 1:
            hn = tl.load(hp, mask=r_ok[:, None], other=0.0) + acc
            tl.store(hp, hn, mask=r_ok[:, None])
            if EMIT:
                _emit_norm_inputs(hn, nw_ptr, xn_ptr, ss_ptr, rows64, cols, r_ok, N, P, pid_n)
        else:
            # relaxed: the kernel boundary orders them for the next kernel, and for EMIT the barrier + the
            # counter's release (CUTLASS's serial split-K semaphore pattern)
            tl.atomic_add(hp, acc, mask=r_ok[:, None], sem="relaxed")
            if EMIT:  # the tile's last split to arrive (acq_rel counter) reads the complete tile back
                tl.debug_barrier()
                cp = cnt_ptr + pid_m * P + pid_n
                if tl.atomic_add(cp, 1) == SPLIT_K - 1:
                    hn = tl.load(hp, mask=r_ok[:, None], other=0.0, cache_modifier=".cg")
                    _emit_norm_inputs(hn, nw_ptr, xn_ptr, ss_ptr, rows64, cols, r_ok, N, P, pid_n)
                    tl.atomic_xchg(cp, 0)  # ready for the next launch

    @triton.jit
    def _rms_prep_kernel(h_ptr, nw_ptr, xn_ptr, ss_ptr, K, BLOCK: tl.constexpr, PDL: tl.constexpr):
        """One row of :func:`rms_prep`: ``bf16(h·(1 + w))`` and the row's sum of squares."""
        _pdl_start(PDL)
        row = tl.program_id(0).to(tl.int64)
        ss = tl.zeros([BLOCK], dtype=tl.float32)
        for k0 in range(0, K, BLOCK):
            ks = k0 + tl.arange(0, BLOCK)
            ok = ks < K
            x = tl.load(h_ptr + row * K + ks, mask=ok, other=0.0)
            nw = tl.load(nw_ptr + ks, mask=ok, other=0.0).to(tl.float32)
            ss += x * x
            tl.store(xn_ptr + row * K + ks, (x * (1.0 + nw)).to(xn_ptr.dtype.element_ty), mask=ok)
        tl.store(ss_ptr + row, tl.sum(ss, axis=0))


BLOCK_M = 64

def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ExpertKernelError(msg)


def fit(tiles: Tiles, k: int, n: int) -> Tiles:
    """``tiles`` shrunk (halving) until BLOCK_K·SPLIT_K divides ``k`` and BLOCK_N divides ``n`` (small models)."""
    bn, bk, split = tiles.block_n, tiles.block_k, tiles.split_k
    while n % bn and bn > 1:
        bn //= 2
    while k % (bk * split) and split > 1:
        split //= 2
    while k % (bk * split) and bk > 16:
        bk //= 2
    return Tiles(bn, bk, split, tiles.warps, tiles.stages)


def _act_dtype(w: torch.Tensor, scale: torch.Tensor | None) -> torch.dtype:
    """The activations' dtype for weight ``w``: its own (bf16/fp16), or for int8 ``w`` (W8A16) its scales'."""
    if scale is None:
        _check(w.dim() == 2 and w.dtype in (torch.bfloat16, torch.float16) and w.is_contiguous(),
               f"weight must be a contiguous bf16/fp16 (N, K) tensor, got {tuple(w.shape)} {w.dtype}")
        return w.dtype
    _check(w.dim() == 2 and w.dtype == torch.int8 and w.is_contiguous(),
           f"a scaled weight must be a contiguous int8 (N, K) tensor, got {tuple(w.shape)} {w.dtype}")
    _check(scale.dtype in (torch.bfloat16, torch.float16) and scale.numel() == w.shape[0]
           and scale.is_contiguous() and scale.device == w.device,
           f"int8 weights take one bf16/fp16 scale per output channel ({w.shape[0]}), got {tuple(scale.shape)} "
           f"{scale.dtype} (group-wise W8A16 is not supported by the fused kernels)")
    return scale.dtype


def _common(x: torch.Tensor, w: torch.Tensor, tiles: Tiles, prenormed: bool = False,
            scale: torch.Tensor | None = None) -> tuple[int, int, torch.dtype]:
    """Checks shared by the GEMM kernels; returns M, K and the activations' dtype."""
    if triton is None:
        raise ExpertKernelError("Triton is not available")
    dt = _act_dtype(w, scale)
    if prenormed:
        _check(x.dim() == 2 and x.dtype == dt and x.is_contiguous(),
               f"activations must be a contiguous (M, K) {dt} tensor, got {tuple(x.shape)} {x.dtype}")
    else:
        _check(scale is None, "int8 weights need the pre-normed kernels (fused_expert.PRENORM)")
        _check(x.dim() == 2 and x.dtype == torch.float32 and x.is_contiguous(),
               f"residual stream must be a contiguous fp32 (M, K) tensor, got {tuple(x.shape)} {x.dtype}")
    _check(x.is_cuda or (x.device.type == "cpu" and _interpreting()),
           "the fused expert kernels need CUDA tensors (or TRITON_INTERPRET=1)")
    m, k = x.shape
    _check(k % (tiles.block_k * tiles.split_k) == 0, f"K = {k} is not a multiple of {tiles.block_k}×{tiles.split_k}")
    return m, k, dt


@dataclass(frozen=True)
class NormOut:
    """Where :func:`gemm_residual` / :func:`rms_prep` write the next RMSNorm's inputs."""

    weight: torch.Tensor  # (N,) Gemma norm weight w (the kernels apply 1 + w)
    out: torch.Tensor  # (M, N) bf16/fp16: h·(1 + w)
    ss: torch.Tensor  # (M, P) fp32 partial row sums of h² (P = N / BLOCK_N of the writer; 1 for rms_prep)
    counters: torch.Tensor | None = None  # int32 zeros, ≥ row tiles × P; split-K only (the kernel resets them)


def partials(n: int, k: int, tiles: Tiles) -> int:
    """Columns of the row-sum partials :func:`gemm_residual` writes with ``tiles`` for an (N = n, K = k) GEMM."""
    return n // fit(tiles, k, n).block_n


def _check_norm_in(ss: torch.Tensor | None, m: int) -> tuple[torch.Tensor, int]:
    _check(ss is not None and ss.dim() == 2 and ss.shape[0] == m and ss.dtype == torch.float32
           and ss.is_contiguous(), f"row sums of squares must be contiguous fp32 ({m}, P)")
    return ss, ss.shape[1]


def _qkv(x: torch.Tensor, norm_w: torch.Tensor | None, ss: torch.Tensor | None, w: torch.Tensor, cos: torch.Tensor,
         sin: torch.Tensor, q_out: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, tokens: int, offset: int,
         head_dim: int, eps: float, tiles: Tiles, scale: torch.Tensor | None = None) -> None:
    d, pre = head_dim, ss is not None
    tiles = fit(tiles, x.shape[-1], d // 2)
    m, k, dt = _common(x, w, tiles, pre, scale)
    ss, p = _check_norm_in(ss, m) if pre else (x, 1)
    nq = q_out.shape[-1] // d
    _check(w.shape == (nq * d + 2 * d, k), f"qkv weight {tuple(w.shape)} is not ({nq * d + 2 * d}, {k})")
    _check(d % (2 * tiles.block_n) == 0, f"head dim {d} is not a multiple of 2×{tiles.block_n}")
    _check(m % tokens == 0, f"{m} rows are not whole batches of {tokens} tokens")
    b = m // tokens
    for name, buf in (("k", k_buf), ("v", v_buf)):
        _check(buf.dim() == 4 and buf.shape[0] == b and buf.shape[1] == 1 and buf.shape[3] == d
               and buf.stride(3) == 1 and buf.shape[2] >= offset + tokens and buf.dtype == dt,
               f"{name} buffer {tuple(buf.shape)} cannot take {tokens} rows at {offset}")
    _check(q_out.shape == (m, nq * d) and q_out.stride(1) == 1 and q_out.dtype == dt,
           f"q buffer {tuple(q_out.shape)}")
    _check(cos.shape == (m, d) and sin.shape == cos.shape and cos.is_contiguous() and sin.is_contiguous(),
           f"rotary tables {tuple(cos.shape)} must be contiguous ({m}, {d})")
    grid = (triton.cdiv(m, BLOCK_M), (nq + 2) * (d // 2 // tiles.block_n))
    _norm_pair_kernel[grid](
        x, x if norm_w is None else norm_w, w, w if scale is None else scale, cos, sin, q_out, k_buf, v_buf, ss,
        m, k, tokens, offset, eps, p,
        q_out.stride(0), k_buf.stride(0), k_buf.stride(2), v_buf.stride(0), v_buf.stride(2), cos.stride(0),
        HALF=d // 2, GROUP=d, NQ=nq, ROPE=True, BLOCK_M=BLOCK_M, BLOCK_N=tiles.block_n,
        BLOCK_K=tiles.block_k, UPCAST=x.device.type == "cpu", PRENORM=pre,
        BLOCK_P=triton.next_power_of_2(p), SCALED=scale is not None, num_warps=tiles.warps,
        num_stages=tiles.stages, **_pdl(x))


def qkv_rope(x: torch.Tensor, ss: torch.Tensor, w: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
             q_out: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, tokens: int, offset: int, head_dim: int,
             eps: float, tiles: Tiles | None = None, scale: torch.Tensor | None = None) -> None:
    """RMSNorm → fused q/k/v projection → rotary, written in place, from the norm's inputs.

    ``x`` (B·T, K) bf16 ``h·(1 + w)`` and ``ss`` (B·T, P) fp32 partial row sums of h² (see :class:`NormOut`);
    ``w`` (NQ·D + 2·D, K) = [q; k; v] (one KV head); ``cos``/``sin`` (B·T, D) fp32 tables; ``q_out``
    (B·T, NQ·D); ``k_buf``/``v_buf`` (B, 1, L, D): rows ``offset … offset + tokens`` of each batch element
    receive the new keys and values. W8A16: ``w`` int8 with ``scale`` (N,) per output channel.
    """
    _qkv(x, None, ss, w, cos, sin, q_out, k_buf, v_buf, tokens, offset, head_dim, eps, tiles or TILES["qkv"],
         scale)


def norm_qkv_rope(h: torch.Tensor, norm_w: torch.Tensor, w: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                  q_out: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, tokens: int, offset: int,
                  head_dim: int, eps: float, tiles: Tiles | None = None) -> None:
    """:func:`qkv_rope` with the norm in the GEMM prologue, reading the fp32 stream ``h`` (B·T, K)."""
    _qkv(h, norm_w, None, w, cos, sin, q_out, k_buf, v_buf, tokens, offset, head_dim, eps,
         tiles or TILES["qkv_norm"])


def _gate_up(x: torch.Tensor, norm_w: torch.Tensor | None, ss: torch.Tensor | None, w: torch.Tensor,
             out: torch.Tensor, eps: float, tiles: Tiles, scale: torch.Tensor | None = None) -> None:
    f, pre = w.shape[0] // 2, ss is not None
    tiles = fit(tiles, x.shape[-1], f)
    m, k, dt = _common(x, w, tiles, pre, scale)
    ss, p = _check_norm_in(ss, m) if pre else (x, 1)
    _check(w.shape == (2 * f, k) and f % tiles.block_n == 0, f"gate_up weight {tuple(w.shape)}")
    _check(out.shape == (m, f) and out.is_contiguous() and out.dtype == dt, f"output {tuple(out.shape)}")
    grid = (triton.cdiv(m, BLOCK_M), f // tiles.block_n)
    _norm_pair_kernel[grid](
        x, x if norm_w is None else norm_w, w, w if scale is None else scale, x, x, out, out, out, ss, m, k, 1, 0,
        eps, p, out.stride(0), 0, 0, 0, 0, 0, HALF=f, GROUP=2 * f, NQ=0, ROPE=False, BLOCK_M=BLOCK_M,
        BLOCK_N=tiles.block_n, BLOCK_K=tiles.block_k, UPCAST=x.device.type == "cpu", PRENORM=pre,
        BLOCK_P=triton.next_power_of_2(p), SCALED=scale is not None, num_warps=tiles.warps,
        num_stages=tiles.stages, **_pdl(x))


def gate_up_gelu(x: torch.Tensor, ss: torch.Tensor, w: torch.Tensor, out: torch.Tensor, eps: float,
                 tiles: Tiles | None = None, scale: torch.Tensor | None = None) -> None:
    """``out = gelu_tanh(RMSNorm(h) W_gateᵀ) · (RMSNorm(h) W_upᵀ)``, ``w`` = [gate; up] (2·F, K), from the
    norm's inputs ``x`` = bf16 ``h·(1 + w_norm)`` and ``ss`` (row-sum partials of h², see :class:`NormOut`).
    W8A16: ``w`` int8 with ``scale`` (2·F,) per output channel."""
    _gate_up(x, None, ss, w, out, eps, tiles or TILES["gate_up"], scale)


def norm_gate_up_gelu(h: torch.Tensor, norm_w: torch.Tensor, w: torch.Tensor, out: torch.Tensor, eps: float,
                      tiles: Tiles | None = None) -> None:
    """:func:`gate_up_gelu` with the norm in the GEMM prologue, reading the fp32 stream ``h`` (M, K)."""
    _gate_up(h, norm_w, None, w, out, eps, tiles or TILES["gate_up_norm"])


def gemm_residual(x: torch.Tensor, w: torch.Tensor, h: torch.Tensor, tiles: Tiles | None = None,
                  norm: NormOut | None = None, scale: torch.Tensor | None = None) -> None:
    """``h += x wᵀ`` in place: ``x`` (M, K) bf16 (rows may be strided), ``w`` (N, K), ``h`` (M, N) fp32;
    with ``norm``, also the next RMSNorm's inputs from the updated ``h`` (see :class:`NormOut`).
    W8A16: ``w`` int8 with ``scale`` (N,) per output channel."""
    tiles = tiles or TILES["o"]
    if triton is None:
        raise ExpertKernelError("Triton is not available")
    dt = _act_dtype(w, scale)
    _check(x.dim() == 2 and x.stride(1) == 1 and x.dtype == dt, f"input {tuple(x.shape)} {x.dtype}")
    m, n = h.shape
    tiles = fit(tiles, x.shape[1], n)
    _common(torch.empty(0, x.shape[1], device=h.device, dtype=dt), w, tiles, True, scale)  # weight, device, K
    _check(h.dtype == torch.float32 and h.is_contiguous() and x.shape[0] == m, f"residual {tuple(h.shape)}")
    _check(w.shape == (n, x.shape[1]) and n % tiles.block_n == 0, f"weight {tuple(w.shape)} vs N = {n}")
    grid = (triton.cdiv(m, BLOCK_M), n // tiles.block_n, tiles.split_k)
    emit = (h, h, h, h)
    if norm is not None:
        _check(norm.weight.shape == (n,) and norm.out.shape == (m, n) and norm.out.is_contiguous()
               and norm.out.dtype == dt, f"norm output {tuple(norm.out.shape)} for ({m}, {n})")
        _check(norm.ss.shape == (m, grid[1]) and norm.ss.dtype == torch.float32 and norm.ss.is_contiguous(),
               f"row sums {tuple(norm.ss.shape)} are not ({m}, {grid[1]}) fp32 (see partials())")
        cnt = norm.counters
        if tiles.split_k > 1:
            _check(cnt is not None and cnt.dtype == torch.int32 and cnt.is_contiguous()
                   and cnt.numel() >= grid[0] * grid[1], f"split-K needs ≥ {grid[0] * grid[1]} int32 counters")
        emit = (norm.weight, norm.out, norm.ss, cnt if cnt is not None else h)
    _gemm_residual_kernel[grid](
        x, w, w if scale is None else scale, h, m, x.shape[1], n, x.stride(0), *emit, BLOCK_M=BLOCK_M,
        BLOCK_N=tiles.block_n, BLOCK_K=tiles.block_k, SPLIT_K=tiles.split_k, UPCAST=h.device.type == "cpu",
        EMIT=norm is not None, SCALED=scale is not None, num_warps=tiles.warps, num_stages=tiles.stages,
        **_pdl(h))


def rms_prep(h: torch.Tensor, norm: NormOut) -> None:
    """The next RMSNorm's inputs from the fp32 stream ``h`` (M, K) alone: ``norm.out`` = bf16 ``h·(1 + w)``,
    ``norm.ss`` (M, 1) = the rows' sums of squares."""
    if triton is None:
        raise ExpertKernelError("Triton is not available")
    m, k = h.shape
    _check(h.dtype == torch.float32 and h.is_contiguous() and (h.is_cuda or _interpreting()), "fp32 stream")
    _check(norm.weight.shape == (k,) and norm.out.shape == (m, k) and norm.out.is_contiguous(),
           f"norm output {tuple(norm.out.shape)} for ({m}, {k})")
    _check(norm.ss.shape == (m, 1) and norm.ss.dtype == torch.float32, f"row sums {tuple(norm.ss.shape)}")
    _rms_prep_kernel[(m,)](h, norm.weight, norm.out, norm.ss, k, BLOCK=min(1024, triton.next_power_of_2(k)),
                           num_warps=4, **_pdl(h))


PDL = False  # programmatic dependent launch between the fused kernels (sm_90+; never interpreted); off until measured


def _pdl(ref: torch.Tensor) -> dict[str, Any]:
    """Launch arguments: ``PDL`` for the kernel and Triton's ``launch_pdl`` when it applies to ``ref``'s device."""
    on = (PDL and gdc_wait is not None and ref.is_cuda and not _interpreting()
          and torch.cuda.get_device_capability(ref.device) >= (9, 0))
    return {"PDL": True, "launch_pdl": True} if on else {"PDL": False}


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"
