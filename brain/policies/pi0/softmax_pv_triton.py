"""π0's attention as two kernels instead of three: the scores ``q kᵀ`` by cuBLAS, then one Triton kernel for
``softmax(scores · scale + bias) · v`` (``fused_expert.ATTENTION = "scores"``).

The math path runs the softmax as its own kernel between the two matmuls; every kernel in the expert's
chain of dependent launches costs a few µs however little it does (docs/vla.md), so this folds the softmax
into the value product. Each program owns ``BLOCK_M`` score rows and ``BLOCK_D`` output columns: a first
pass over the row's scores finds its max and sum, a second turns them into probabilities tile by tile and
multiplies by the matching rows of ``v``. Splitting the head dimension over programs (the rows' softmax is
recomputed per column block, a few KB of score reads) gives the 400 × 256 output of an expert layer-step
100–200 programs instead of 25.
"""

from __future__ import annotations

import math
import os

import torch

try:  # Triton is optional: without it the expert runs the math attention.
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001  # pragma: no cover - depends on the environment
    triton = None
    tl = None


class SoftmaxPVError(ValueError):
    """Inputs the softmax·V kernel cannot run."""


if triton is not None:

    @triton.jit
    def _softmax_pv_kernel(s_ptr, b_ptr, v_ptr, o_ptr, TQ, TK, KV, scale,
                           ss_b, ss_q, sb_b, sb_q, sb_k, sv_b, sv_t, so_b, so_t,
                           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                           UPCAST: tl.constexpr):
        pid_m = tl.program_id(0)
        bh = tl.program_id(1).to(tl.int64)
        pid_d = tl.program_id(2)
        rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        r_ok = rows < TQ
        s_rows = s_ptr + bh * ss_b + rows[:, None].to(tl.int64) * ss_q
        b_rows = b_ptr + (bh // KV) * sb_b + rows[:, None].to(tl.int64) * sb_q
        m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
        for n0 in range(0, TK, BLOCK_N):  # pass 1: each row's max and sum of exponentials
            cols = n0 + tl.arange(0, BLOCK_N)
            ok = r_ok[:, None] & (cols < TK)[None, :]
            s = tl.load(s_rows + cols[None, :], mask=ok, other=float("-inf")).to(tl.float32) * scale
            s += tl.load(b_rows + cols[None, :] * sb_k, mask=ok, other=float("-inf")).to(tl.float32)
            m_new = tl.maximum(m_i, tl.max(s, axis=1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with every key masked so far
            l_i = l_i * tl.exp(m_i - m_safe) + tl.sum(tl.exp(s - m_safe[:, None]), axis=1)
            m_i = m_new
        m_safe = tl.where(m_i == float("-inf"), 0.0, m_i)
        inv = 1.0 / tl.where(l_i > 0.0, l_i, 1.0)  # l_i = 0 only on rows past TQ (not stored)
        dcols = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
        acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
        for n0 in range(0, TK, BLOCK_N):  # pass 2: probabilities times values
            cols = n0 + tl.arange(0, BLOCK_N)
            c_ok = cols < TK
            ok = r_ok[:, None] & c_ok[None, :]
            s = tl.load(s_rows + cols[None, :], mask=ok, other=float("-inf")).to(tl.float32) * scale
            s += tl.load(b_rows + cols[None, :] * sb_k, mask=ok, other=float("-inf")).to(tl.float32)
            p = tl.exp(s - m_safe[:, None]) * inv[:, None]
            v = tl.load(v_ptr + bh * sv_b + cols[:, None].to(tl.int64) * sv_t + dcols[None, :], mask=c_ok[:, None],
                        other=0.0)
            if UPCAST:  # CPU interpreter only: its bf16 dot is wrong
                acc += tl.dot(p, v.to(tl.float32))
            else:
                acc += tl.dot(p.to(v.dtype), v)
        tl.store(o_ptr + bh * so_b + rows[:, None].to(tl.int64) * so_t + dcols[None, :],
                 acc.to(o_ptr.dtype.element_ty), mask=r_ok[:, None])


BLOCKS: tuple[int, int, int, int] = (16, 64, 64, 4)  # BLOCK_M, BLOCK_N, BLOCK_D, warps (tuned: expert_tune)


def softmax_pv(scores: torch.Tensor, bias: torch.Tensor, v: torch.Tensor, scale: float,
               blocks: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """``softmax(scores · scale + bias) v`` with a float32 softmax: ``scores`` (B, KV, Tq, Tk) bf16/fp16,
    ``bias`` additive, broadcastable as (B or 1, 1, Tq, Tk) (``-inf`` = masked), ``v`` (B, KV, Tk, D).
    Returns (B, KV, Tq, D) in ``v``'s dtype."""
    if triton is None:
        raise SoftmaxPVError("Triton is not available")
    if scores.dim() != 4 or v.dim() != 4 or scores.shape[:2] != v.shape[:2] or scores.shape[3] != v.shape[2]:
        raise SoftmaxPVError(f"shapes scores {tuple(scores.shape)} v {tuple(v.shape)}")
    b, kv, tq, tk = scores.shape
    d = v.shape[3]
    if bias.dim() != 4 or bias.shape[1] != 1 or bias.shape[0] not in (1, b) or bias.shape[2:] != (tq, tk):
        raise SoftmaxPVError(f"bias {tuple(bias.shape)} must be (B or 1, 1, {tq}, {tk})")
    if v.dtype not in (torch.bfloat16, torch.float16) or scores.dtype != v.dtype:
        raise SoftmaxPVError(f"dtypes scores {scores.dtype} v {v.dtype}: bf16/fp16, both the same")
    block_m, block_n, block_d, warps = blocks or BLOCKS
    block_d = min(block_d, d)
    if d % block_d or block_d < 16 or block_d & (block_d - 1):
        raise SoftmaxPVError(f"head dim {d} must be a multiple of a power-of-two column block >= 16")
    if not (v.is_cuda or (v.device.type == "cpu" and os.environ.get("TRITON_INTERPRET", "0") == "1")):
        raise SoftmaxPVError("the softmax·V kernel needs CUDA tensors (or TRITON_INTERPRET=1)")
    s3 = scores.reshape(b * kv, tq, tk)
    v3 = v.reshape(b * kv, tk, d)
    if s3.stride(2) != 1 or v3.stride(2) != 1:
        s3, v3 = s3.contiguous(), v3.contiguous()
    out = torch.empty((b * kv, tq, d), device=v.device, dtype=v.dtype)
    grid = (triton.cdiv(tq, block_m), b * kv, d // block_d)
    _softmax_pv_kernel[grid](
        s3, bias, v3, out, tq, tk, kv, float(scale), s3.stride(0), s3.stride(1),
        bias.stride(0) if bias.shape[0] > 1 else 0, bias.stride(2), bias.stride(3), v3.stride(0), v3.stride(1),
        out.stride(0), out.stride(1), BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
        UPCAST=v.device.type == "cpu", num_warps=warps, num_stages=2)
    return out.view(b, kv, tq, d)


def scores_attention(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                     blocks: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """Attention of folded queries ``qf`` (B, KV, Tq, D) as a cuBLAS score matmul and :func:`softmax_pv`."""
    return softmax_pv(torch.matmul(qf, k.transpose(-1, -2)), bias, v, 1.0 / math.sqrt(qf.shape[-1]), blocks)
