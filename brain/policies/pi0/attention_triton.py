"""One fused Triton kernel for π0's attention (``attention="triton"``): scores, additive bias, softmax and the
value product in a single launch, with the query heads of a KV head folded onto the query axis (see
:func:`~roboos.brain.policies.pi0.layers.attend`).

π0's attention is small and launch-bound: per expert layer and Euler step 50 actions × 8 heads = 400 query
rows against ~360 keys of one KV head (D = 256). Written as two matmuls and a softmax it costs three kernels
(~11 µs on an H100 in the profile of the math variant); here each program owns ``BLOCK_M`` query rows,
streams the keys and values in ``BLOCK_N`` tiles with an online softmax in float32 and writes its rows
once. Under ``torch.compile`` it is the custom op ``torch.ops.roboos.pi0_attention`` (opaque to the
compiler, shape-only fake), so a compiled step traces as one graph.
"""

from __future__ import annotations

import math

import torch

try:  # Triton is optional: without it attend() keeps the math / SDPA paths.
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001  # pragma: no cover - depends on the environment
    triton = None
    tl = None


class AttentionLaunchError(ValueError):
    """Inputs the fused attention kernel cannot run."""


if triton is not None:

    @triton.jit
    def _pi0_attention_kernel(q_ptr, k_ptr, v_ptr, b_ptr, o_ptr, TQ, TK, KV, scale,
                              sq_b, sq_t, sk_b, sk_t, sv_b, sv_t, sb_b, sb_q, sb_k, so_b, so_t,
                              D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                              UPCAST: tl.constexpr):
        pid_m = tl.program_id(0)
        bh = tl.program_id(1).to(tl.int64)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, D)
        m_ok = offs_m < TQ
        q = tl.load(q_ptr + bh * sq_b + offs_m[:, None].to(tl.int64) * sq_t + offs_d[None, :],
                    mask=m_ok[:, None], other=0.0)
        if UPCAST:  # CPU interpreter only: its bf16 dot is wrong
            q = q.to(tl.float32)
        m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
        acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
        for n0 in range(0, TK, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)
            n_ok = offs_n < TK
            k = tl.load(k_ptr + bh * sk_b + offs_n[:, None].to(tl.int64) * sk_t + offs_d[None, :],
                        mask=n_ok[:, None], other=0.0)
            v = tl.load(v_ptr + bh * sv_b + offs_n[:, None].to(tl.int64) * sv_t + offs_d[None, :],
                        mask=n_ok[:, None], other=0.0)
            if UPCAST:
                k = k.to(tl.float32)
                v = v.to(tl.float32)
            s = tl.dot(q, tl.trans(k), out_dtype=tl.float32) * scale
            bias = tl.load(b_ptr + (bh // KV) * sb_b + offs_m[:, None] * sb_q + offs_n[None, :] * sb_k,
                           mask=m_ok[:, None] & n_ok[None, :], other=float("-inf"))
            s = s + bias.to(tl.float32)
            m_new = tl.maximum(m_i, tl.max(s, axis=1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with every key masked so far
            alpha = tl.exp(m_i - m_safe)
            p = tl.exp(s - m_safe[:, None])
            l_i = l_i * alpha + tl.sum(p, axis=1)
            if UPCAST:
                acc = acc * alpha[:, None] + tl.dot(p, v, out_dtype=tl.float32)
            else:
                acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, out_dtype=tl.float32)
            m_i = m_new
        out = acc / tl.where(l_i > 0.0, l_i, 1.0)[:, None]  # l_i = 0 only on rows past TQ (not stored)
        tl.store(o_ptr + bh * so_b + offs_m[:, None].to(tl.int64) * so_t + offs_d[None, :],
                 out.to(o_ptr.dtype.element_ty), mask=m_ok[:, None])


def _block_sizes(tq: int, d: int) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps, num_stages): 16 query rows per program when that gives fewer than two
    waves on an H100 (the action step: 400 rows), else 64; key tiles sized to keep the pipeline in
    shared memory at D = 256."""
    block_m = 16 if tq <= 16 * 264 else 64
    block_n = 64 if d <= 128 else 32
    return block_m, block_n, 4, 2


def fused_attention(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                    scale: float | None = None) -> torch.Tensor:
    """``softmax(qf kᵀ · scale + bias) v`` for ``qf`` (B, KV, Tq, D), ``k``/``v`` (B, KV, Tk, D) and an
    additive ``bias`` broadcastable to (B, KV, Tq, Tk) (``-inf`` = masked; every row needs one finite key).
    Returns (B, KV, Tq, D) in ``qf``'s dtype."""
    if torch.compiler.is_compiling():
        return torch.ops.roboos.pi0_attention(qf, k, v, bias, float(scale or 1.0 / math.sqrt(qf.shape[-1])))
    return _launch(qf, k, v, bias, scale)


def _launch(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
            scale: float | None) -> torch.Tensor:
    if triton is None:
        raise AttentionLaunchError("Triton is not available")
    if qf.dim() != 4 or k.shape != v.shape or k.dim() != 4 or qf.shape[:2] != k.shape[:2]:
        raise AttentionLaunchError(f"shapes q {tuple(qf.shape)} k {tuple(k.shape)} v {tuple(v.shape)}")
    b, kv, tq, d = qf.shape
    tk = k.shape[2]
    if k.shape[3] != d or d & (d - 1) or d < 16:
        raise AttentionLaunchError(f"head dim {d} must match the keys' and be a power of two >= 16")
    if qf.dtype not in (torch.bfloat16, torch.float16) or k.dtype != qf.dtype or v.dtype != qf.dtype:
        raise AttentionLaunchError(f"dtypes q {qf.dtype} k {k.dtype} v {v.dtype}: bf16/fp16, all the same")
    if bias.dim() != 4 or bias.shape[1] != 1 or bias.shape[0] not in (1, b) or bias.shape[2:] != (tq, tk):
        raise AttentionLaunchError(f"bias {tuple(bias.shape)} must be (B or 1, 1, {tq}, {tk})")
    if not (qf.is_cuda or (qf.device.type == "cpu" and _interpreting())):
        raise AttentionLaunchError("the fused attention needs a CUDA tensor (or TRITON_INTERPRET=1)")
    q3 = qf.reshape(b * kv, tq, d)
    k3, v3 = k.reshape(b * kv, tk, d), v.reshape(b * kv, tk, d)
    if q3.stride(2) != 1 or k3.stride(2) != 1 or v3.stride(2) != 1:
        q3, k3, v3 = q3.contiguous(), k3.contiguous(), v3.contiguous()
    # the kv heads of one batch element share its bias (program bh = batch * KV + head)
    bias_b = bias.stride(0) if bias.shape[0] > 1 else 0
    out = torch.empty((b * kv, tq, d), device=qf.device, dtype=qf.dtype)
    block_m, block_n, warps, stages = _block_sizes(tq, d)
    grid = (triton.cdiv(tq, block_m), b * kv)
    _pi0_attention_kernel[grid](
        q3, k3, v3, bias, out, tq, tk, kv, float(scale or 1.0 / math.sqrt(d)),
        q3.stride(0), q3.stride(1), k3.stride(0), k3.stride(1), v3.stride(0), v3.stride(1),
        bias_b, bias.stride(2), bias.stride(3), out.stride(0), out.stride(1),
        D=d, BLOCK_M=block_m, BLOCK_N=block_n, UPCAST=qf.device.type == "cpu",
        num_warps=warps, num_stages=stages)
    return out.view(b, kv, tq, d)


def _interpreting() -> bool:
    import os

    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@torch.library.custom_op("roboos::pi0_attention", mutates_args=())
def _attention_op(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                  scale: float) -> torch.Tensor:
    """The compiled-graph entry of :func:`fused_attention`."""
    return _launch(qf, k, v, bias, scale)


@_attention_op.register_fake
def _attention_fake(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                    scale: float) -> torch.Tensor:
    return qf.new_empty(qf.shape)
