"""Fused Triton kernels for π0's action-expert layers (``attention="fused"``): four GEMM kernels per layer
instead of ~15 small kernels.

Per Euler step each of the 18 expert layers runs 50 action tokens (M = 50 per batch element) through
weights of 34.6 MB, so each step is bound by kernel count and weight streaming, not arithmetic. The
kernels here parallelise over the output columns (one ``BLOCK_M = 64`` tile holds M = 50) so that many
programs stream weights at once, and fold the small ops into the GEMMs:

* :func:`norm_qkv_rope` — Gemma RMSNorm of the fp32 residual stream in the prologue (the row's sum of
  squares is gathered while the K loop streams it; ``(1 + w)`` scales each K tile), the fused q/k/v GEMM,
  and rotary in the epilogue: each program owns ``BLOCK_N`` columns of a head's first half and the matching
  columns of its second half, so ``rotate_half`` needs no exchange. Queries land token-major (the folded
  layout attention reads), keys and values go straight into the tail rows of the per-layer key/value
  buffers that already hold the cached prefix (no concatenation per step).
* :func:`norm_gate_up_gelu` — the same norm prologue, gate and up columns paired in one program and
  ``gelu_tanh(gate) · up`` in the epilogue (writes only the 50 × 4096 product).
* :func:`gemm_residual` — ``h += x Wᵀ`` into the fp32 residual stream (o-projection, down-projection), with
  an optional split over K through fp32 atomics to fill the SMs when N is small.

The residual stream stays float32 between kernels (the reference rounds it to bf16 after each residual).
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
TILES: dict[str, Tiles] = {
    "qkv": Tiles(16, 64, 1, 4, 4),
    "o": Tiles(16, 128, 2, 4, 5),
    "gate_up": Tiles(32, 64, 1, 4, 4),
    "down": Tiles(16, 128, 2, 4, 5),
}

if triton is not None:

    @triton.jit
    def _gelu_tanh(x):
        # 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), tanh through exp (no libdevice under the interpreter)
        y = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        t = 1.0 - 2.0 / (tl.exp(2.0 * y) + 1.0)
        return 0.5 * x * (1.0 + t)

    @triton.jit
    def _prefetch_l2(pf_ptr, pf_chunk, pf_bytes, PF_VEC: tl.constexpr):
        """This program's share of an L2 prefetch of ``pf_bytes`` at ``pf_ptr`` (the weights of a later
        kernel): ``PF_VEC`` bulk prefetches of ``pf_chunk`` bytes (sm_90 ``cp.async.bulk.prefetch.L2``),
        fire-and-forget, clamped inside the buffer."""
        pid = (tl.program_id(0) * tl.num_programs(1) + tl.program_id(1)) * tl.num_programs(2) + tl.program_id(2)
        idx = (pid * PF_VEC + tl.arange(0, PF_VEC)).to(tl.int64)
        start = tl.minimum(idx * pf_chunk, pf_bytes - pf_chunk)
        ptrs = pf_ptr.to(tl.pointer_type(tl.int8)) + start
        sizes = tl.full([PF_VEC], 0, tl.int32) + pf_chunk
        tl.inline_asm_elementwise("cp.async.bulk.prefetch.L2.global [$1], $2;\n mov.u32 $0, 0;", "=r,l,r",
                                  [ptrs, sizes], dtype=tl.int32, is_pure=False, pack=1)

    @triton.jit
    def _norm_pair_kernel(x_ptr, nw_ptr, w_ptr, cos_ptr, sin_ptr, o1_ptr, o2_ptr, o3_ptr,
                          M, K, T, OFF, eps,
                          s_o1, s_o2b, s_o2t, s_o3b, s_o3t, s_cs, pf_ptr, pf_chunk, pf_bytes,
                          HALF: tl.constexpr, GROUP: tl.constexpr, NQ: tl.constexpr, ROPE: tl.constexpr,
                          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                          UPCAST: tl.constexpr, PREFETCH: tl.constexpr, PF_VEC: tl.constexpr):
        if PREFETCH:
            _prefetch_l2(pf_ptr, pf_chunk, pf_bytes, PF_VEC)
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
        # the activations go through registers (norm), which the software pipeline does not cover: load the
        # next K tile one iteration ahead so its L2 latency hides behind this tile's weight loads and dots
        x_rows = x_ptr + rows64[:, None] * K
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
    def _gemm_residual_kernel(x_ptr, w_ptr, h_ptr, M, K, N, s_x, pf_ptr, pf_chunk, pf_bytes,
                              BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                              SPLIT_K: tl.constexpr, UPCAST: tl.constexpr, PREFETCH: tl.constexpr,
                              PF_VEC: tl.constexpr):
        if PREFETCH:
            _prefetch_l2(pf_ptr, pf_chunk, pf_bytes, PF_VEC)
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
                acc += tl.dot(x, w)
        hp = h_ptr + rows64[:, None] * N + cols[None, :]
        if SPLIT_K == 1:
            tl.store(hp, tl.load(hp, mask=r_ok[:, None], other=0.0) + acc, mask=r_ok[:, None])
        else:
            tl.atomic_add(hp, acc, mask=r_ok[:, None])


BLOCK_M = 64
PF_VEC = 128  # bulk L2 prefetches per program (one per thread of a 4-warp program)
PREFETCH = False  # L2 prefetch of ``prefetch=`` weights (sm_90+): measured slower on an H100 (docs/vla.md), off


def _prefetch_args(prefetch: torch.Tensor | None, programs: int, ref: torch.Tensor) -> tuple[Any, ...]:
    """(pointer, chunk bytes, total bytes, on) for the kernels' L2 prefetch of ``prefetch``."""
    on = (prefetch is not None and PREFETCH and ref.is_cuda
          and torch.cuda.get_device_capability(ref.device) >= (9, 0))
    if not on:
        return ref, 16, 16, False
    _check(prefetch.is_cuda and prefetch.is_contiguous(), "the prefetched tensor must be contiguous on CUDA")
    total = prefetch.numel() * prefetch.element_size()
    total -= total % 16
    chunk = -(-total // (programs * PF_VEC))
    chunk = max(16, -(-chunk // 16) * 16)
    if total < chunk:
        return ref, 16, 16, False
    return prefetch, chunk, total, True


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


def _common(h: torch.Tensor, w: torch.Tensor, tiles: Tiles) -> tuple[int, int]:
    if triton is None:
        raise ExpertKernelError("Triton is not available")
    _check(h.dim() == 2 and h.dtype == torch.float32 and h.is_contiguous(),
           f"residual stream must be a contiguous fp32 (M, K) tensor, got {tuple(h.shape)} {h.dtype}")
    _check(w.dim() == 2 and w.dtype in (torch.bfloat16, torch.float16) and w.is_contiguous(),
           f"weight must be a contiguous bf16/fp16 (N, K) tensor, got {tuple(w.shape)} {w.dtype}")
    _check(h.is_cuda or (h.device.type == "cpu" and _interpreting()),
           "the fused expert kernels need CUDA tensors (or TRITON_INTERPRET=1)")
    m, k = h.shape
    _check(k % (tiles.block_k * tiles.split_k) == 0, f"K = {k} is not a multiple of {tiles.block_k}×{tiles.split_k}")
    return m, k


def norm_qkv_rope(h: torch.Tensor, norm_w: torch.Tensor, w: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                  q_out: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, tokens: int, offset: int,
                  head_dim: int, eps: float, tiles: Tiles | None = None,
                  prefetch: torch.Tensor | None = None) -> None:
    """RMSNorm(h) → fused q/k/v projection → rotary, written in place.

    ``h`` (B·T, K) fp32; ``w`` (NQ·D + 2·D, K) = [q; k; v] (one KV head); ``cos``/``sin`` (B·T, D) fp32
    tables; ``q_out`` (B·T, NQ·D); ``k_buf``/``v_buf`` (B, 1, L, D): rows ``offset … offset + tokens`` of
    each batch element receive the new keys and values.
    """
    d = head_dim
    tiles = fit(tiles or TILES["qkv"], h.shape[-1], d // 2)
    m, k = _common(h, w, tiles)
    nq = q_out.shape[-1] // d
    _check(w.shape == (nq * d + 2 * d, k), f"qkv weight {tuple(w.shape)} is not ({nq * d + 2 * d}, {k})")
    _check(d % (2 * tiles.block_n) == 0, f"head dim {d} is not a multiple of 2×{tiles.block_n}")
    _check(m % tokens == 0, f"{m} rows are not whole batches of {tokens} tokens")
    b = m // tokens
    for name, buf in (("k", k_buf), ("v", v_buf)):
        _check(buf.dim() == 4 and buf.shape[0] == b and buf.shape[1] == 1 and buf.shape[3] == d
               and buf.stride(3) == 1 and buf.shape[2] >= offset + tokens and buf.dtype == w.dtype,
               f"{name} buffer {tuple(buf.shape)} cannot take {tokens} rows at {offset}")
    _check(q_out.shape == (m, nq * d) and q_out.stride(1) == 1 and q_out.dtype == w.dtype,
           f"q buffer {tuple(q_out.shape)}")
    _check(cos.shape == (m, d) and sin.shape == cos.shape and cos.is_contiguous() and sin.is_contiguous(),
           f"rotary tables {tuple(cos.shape)} must be contiguous ({m}, {d})")
    grid = (triton.cdiv(m, BLOCK_M), (nq + 2) * (d // 2 // tiles.block_n))
    pf = _prefetch_args(prefetch, grid[0] * grid[1], h)
    _norm_pair_kernel[grid](
        h, norm_w, w, cos, sin, q_out, k_buf, v_buf, m, k, tokens, offset, eps,
        q_out.stride(0), k_buf.stride(0), k_buf.stride(2), v_buf.stride(0), v_buf.stride(2), cos.stride(0),
        *pf[:3], HALF=d // 2, GROUP=d, NQ=nq, ROPE=True, BLOCK_M=BLOCK_M, BLOCK_N=tiles.block_n,
        BLOCK_K=tiles.block_k, UPCAST=h.device.type == "cpu", PREFETCH=pf[3], PF_VEC=PF_VEC,
        num_warps=tiles.warps, num_stages=tiles.stages)


def norm_gate_up_gelu(h: torch.Tensor, norm_w: torch.Tensor, w: torch.Tensor, out: torch.Tensor, eps: float,
                      tiles: Tiles | None = None, prefetch: torch.Tensor | None = None) -> None:
    """``out = gelu_tanh(RMSNorm(h) W_gateᵀ) · (RMSNorm(h) W_upᵀ)`` with ``w`` = [gate; up] (2·F, K)."""
    f = w.shape[0] // 2
    tiles = fit(tiles or TILES["gate_up"], h.shape[-1], f)
    m, k = _common(h, w, tiles)
    _check(w.shape == (2 * f, k) and f % tiles.block_n == 0, f"gate_up weight {tuple(w.shape)}")
    _check(out.shape == (m, f) and out.is_contiguous() and out.dtype == w.dtype, f"output {tuple(out.shape)}")
    grid = (triton.cdiv(m, BLOCK_M), f // tiles.block_n)
    pf = _prefetch_args(prefetch, grid[0] * grid[1], h)
    _norm_pair_kernel[grid](
        h, norm_w, w, h, h, out, out, out, m, k, 1, 0, eps, out.stride(0), 0, 0, 0, 0, 0, *pf[:3],
        HALF=f, GROUP=2 * f, NQ=0, ROPE=False, BLOCK_M=BLOCK_M, BLOCK_N=tiles.block_n, BLOCK_K=tiles.block_k,
        UPCAST=h.device.type == "cpu", PREFETCH=pf[3], PF_VEC=PF_VEC, num_warps=tiles.warps,
        num_stages=tiles.stages)


def gemm_residual(x: torch.Tensor, w: torch.Tensor, h: torch.Tensor, tiles: Tiles | None = None,
                  prefetch: torch.Tensor | None = None) -> None:
    """``h += x wᵀ`` in place: ``x`` (M, K) bf16 (rows may be strided), ``w`` (N, K), ``h`` (M, N) fp32."""
    tiles = tiles or TILES["o"]
    if triton is None:
        raise ExpertKernelError("Triton is not available")
    _check(x.dim() == 2 and x.stride(1) == 1 and x.dtype == w.dtype, f"input {tuple(x.shape)} {x.dtype}")
    m, n = h.shape
    tiles = fit(tiles, x.shape[1], n)
    _common(torch.empty(0, x.shape[1], device=h.device), w, tiles)  # weight, device and K checks
    _check(h.dtype == torch.float32 and h.is_contiguous() and x.shape[0] == m, f"residual {tuple(h.shape)}")
    _check(w.shape == (n, x.shape[1]) and n % tiles.block_n == 0, f"weight {tuple(w.shape)} vs N = {n}")
    grid = (triton.cdiv(m, BLOCK_M), n // tiles.block_n, tiles.split_k)
    pf = _prefetch_args(prefetch, grid[0] * grid[1] * grid[2], h)
    _gemm_residual_kernel[grid](
        x, w, h, m, x.shape[1], n, x.stride(0), *pf[:3], BLOCK_M=BLOCK_M, BLOCK_N=tiles.block_n,
        BLOCK_K=tiles.block_k, SPLIT_K=tiles.split_k, UPCAST=h.device.type == "cpu", PREFETCH=pf[3],
        PF_VEC=PF_VEC, num_warps=tiles.warps, num_stages=tiles.stages)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"
