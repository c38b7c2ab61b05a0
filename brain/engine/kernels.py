"""Fused decode-step operators: Triton kernels on CUDA, plain torch references everywhere else.

Each public function picks the Triton kernel when its tensors live on a CUDA device and Triton imports,
and the torch reference otherwise (CPU tests, or ``ROBOOS_ENGINE_TRITON=0``). The references define the
semantics; the GPU benchmark checks the kernels against them.

* :func:`add_rmsnorm` — residual add + RMSNorm in one pass (HF's Qwen2/Llama RMSNorm numerics).
* :func:`silu_mul` — SwiGLU activation ``silu(gate) * up``.
* :func:`rope_write_cache` — rotary embedding of q and k for one new token per row, k/v written into the
  static cache at slot ``write_idx`` (read from device memory, so a captured CUDA graph stays valid).
* :func:`decode_attention` — one-token attention over the cache rows ``[start[b], write_idx]`` (GQA).
"""

from __future__ import annotations

import os

import torch

try:  # Triton is optional: CPU-only installs run the torch references.
    import triton
    import triton.language as tl
except Exception:  # pragma: no cover - depends on the environment
    triton = None
    tl = None


def triton_enabled(t: torch.Tensor) -> bool:
    """Whether the Triton path serves tensors like ``t``.

    ``ROBOOS_ENGINE_TRITON=0`` forces the torch references; ``=interpret`` (with ``TRITON_INTERPRET=1``)
    runs the kernels on CPU tensors through Triton's interpreter, for checking them without a GPU.
    """
    mode = os.environ.get("ROBOOS_ENGINE_TRITON", "1")
    if triton is None or mode == "0":
        return False
    return t.is_cuda or mode == "interpret"


# --------------------------------------------------------------------------------------------- references
def add_rmsnorm_ref(
    x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``residual' = x + residual`` (in x's dtype), ``out = weight * rmsnorm(residual')``."""
    h = x if residual is None else x + residual
    hf = h.float()
    normed = hf * torch.rsqrt(hf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * normed.to(h.dtype), h


def silu_mul_ref(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """SwiGLU: ``silu(gate) * up``."""
    return torch.nn.functional.silu(gate) * up


def _rope_cos_sin(pos: torch.Tensor, inv_freq: torch.Tensor, scaling: float, dtype: torch.dtype):
    freqs = pos.float()[:, None] * inv_freq.float()[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * scaling).to(dtype), (emb.sin() * scaling).to(dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def rope_write_cache_ref(q, k, v, pos, inv_freq, scaling, k_cache, v_cache, write_idx):
    """Rotate q ``[B,Hq,D]`` and k ``[B,Hkv,D]`` at positions ``pos [B]``; store k, v at ``write_idx``."""
    cos, sin = _rope_cos_sin(pos, inv_freq, scaling, q.dtype)
    q_rot = _rotate(q, cos[:, None, :], sin[:, None, :])
    k_rot = _rotate(k, cos[:, None, :], sin[:, None, :])
    slot = write_idx.long().view(1)
    k_cache.index_copy_(2, slot, k_rot.unsqueeze(2).to(k_cache.dtype))
    v_cache.index_copy_(2, slot, v.unsqueeze(2).to(v_cache.dtype))
    return q_rot


def decode_attention_ref(q, k_cache, v_cache, start, write_idx, scale):
    """Softmax attention of q ``[B,Hq,D]`` over cache slots ``start[b] <= n <= write_idx``."""
    bsz, n_heads, _ = q.shape
    n_kv = k_cache.shape[1]
    slots = torch.arange(k_cache.shape[2], device=q.device)
    valid = (slots[None, :] >= start[:, None].long()) & (slots[None, :] <= write_idx.long().view(1, 1))
    k = k_cache.repeat_interleave(n_heads // n_kv, dim=1).float()
    v = v_cache.repeat_interleave(n_heads // n_kv, dim=1).float()
    scores = torch.einsum("bhd,bhnd->bhn", q.float(), k) * scale
    scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
    out = torch.einsum("bhn,bhnd->bhd", scores.softmax(-1), v)
    return out.to(q.dtype).reshape(bsz, -1)


# ------------------------------------------------------------------------------------------------ kernels
if triton is not None:

    @triton.jit
    def _add_rmsnorm_kernel(x_ptr, res_ptr, w_ptr, out_ptr, res_out_ptr, x_stride, res_stride, n_cols,
                            eps, HAS_RES: tl.constexpr, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.arange(0, BLOCK)
        mask = cols < n_cols
        h = tl.load(x_ptr + row * x_stride + cols, mask=mask, other=0.0)
        if HAS_RES:
            r = tl.load(res_ptr + row * res_stride + cols, mask=mask, other=0.0)
            h = (h.to(tl.float32) + r.to(tl.float32)).to(x_ptr.dtype.element_ty)
        tl.store(res_out_ptr + row * n_cols + cols, h, mask=mask)
        hf = h.to(tl.float32)
        var = tl.sum(hf * hf, axis=0) / n_cols
        normed = (hf * tl.rsqrt(var + eps)).to(x_ptr.dtype.element_ty)
        w = tl.load(w_ptr + cols, mask=mask, other=0.0)
        tl.store(out_ptr + row * n_cols + cols, (w.to(tl.float32) * normed.to(tl.float32)), mask=mask)

    @triton.jit
    def _silu_mul_kernel(g_ptr, u_ptr, out_ptr, g_stride, u_stride, n_cols, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        mask = cols < n_cols
        g = tl.load(g_ptr + row * g_stride + cols, mask=mask, other=0.0).to(tl.float32)
        u = tl.load(u_ptr + row * u_stride + cols, mask=mask, other=0.0).to(tl.float32)
        act = (g / (1.0 + tl.exp(-g))).to(out_ptr.dtype.element_ty).to(tl.float32)
        tl.store(out_ptr + row * n_cols + cols, act * u, mask=mask)

    @triton.jit
    def _rope_cache_kernel(q_ptr, k_ptr, v_ptr, q_stride, k_stride, v_stride, pos_ptr, inv_freq_ptr, scaling,
                           q_out_ptr, kc_ptr, vc_ptr, kc_sb, kc_sh, kc_sn, widx_ptr, n_q_heads,
                           HALF: tl.constexpr):
        b = tl.program_id(0)
        h = tl.program_id(1)
        offs = tl.arange(0, HALF)
        pos = tl.load(pos_ptr + b).to(tl.float32)
        freq = pos * tl.load(inv_freq_ptr + offs)
        cos = (tl.cos(freq) * scaling).to(q_ptr.dtype.element_ty).to(tl.float32)
        sin = (tl.sin(freq) * scaling).to(q_ptr.dtype.element_ty).to(tl.float32)
        if h < n_q_heads:
            base = q_ptr + b * q_stride + h * 2 * HALF
            x1 = tl.load(base + offs).to(tl.float32)
            x2 = tl.load(base + HALF + offs).to(tl.float32)
            out = q_out_ptr + (b * n_q_heads + h) * 2 * HALF
            tl.store(out + offs, x1 * cos - x2 * sin)
            tl.store(out + HALF + offs, x2 * cos + x1 * sin)
        else:
            kh = h - n_q_heads
            widx = tl.load(widx_ptr)
            base = k_ptr + b * k_stride + kh * 2 * HALF
            x1 = tl.load(base + offs).to(tl.float32)
            x2 = tl.load(base + HALF + offs).to(tl.float32)
            dst = b * kc_sb + kh * kc_sh + widx * kc_sn
            tl.store(kc_ptr + dst + offs, x1 * cos - x2 * sin)
            tl.store(kc_ptr + dst + HALF + offs, x2 * cos + x1 * sin)
            vbase = v_ptr + b * v_stride + kh * 2 * HALF
            tl.store(vc_ptr + dst + offs, tl.load(vbase + offs))
            tl.store(vc_ptr + dst + HALF + offs, tl.load(vbase + HALF + offs))

    @triton.jit
    def _decode_attn_kernel(q_ptr, kc_ptr, vc_ptr, out_ptr, start_ptr, widx_ptr, kc_sb, kc_sh, kc_sn,
                            scale, n_q_heads, group, D: tl.constexpr, BLOCK_N: tl.constexpr):
        b = tl.program_id(0)
        h = tl.program_id(1)
        kh = h // group
        d = tl.arange(0, D)
        q = tl.load(q_ptr + (b * n_q_heads + h) * D + d).to(tl.float32) * scale
        start = tl.load(start_ptr + b)
        end = tl.load(widx_ptr) + 1
        m_i = float("-inf")
        l_i = 0.0
        acc = tl.zeros([D], dtype=tl.float32)
        kv_base = b * kc_sb + kh * kc_sh
        first = (start // BLOCK_N) * BLOCK_N
        for n0 in range(first, end, BLOCK_N):
            n = n0 + tl.arange(0, BLOCK_N)
            valid = (n >= start) & (n < end)
            offs = kv_base + n[:, None] * kc_sn + d[None, :]
            k = tl.load(kc_ptr + offs, mask=valid[:, None], other=0.0).to(tl.float32)
            s = tl.sum(k * q[None, :], axis=1)
            s = tl.where(valid, s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, axis=0))
            alpha = tl.exp(m_i - m_new)
            p = tl.exp(s - m_new)
            v = tl.load(vc_ptr + offs, mask=valid[:, None], other=0.0).to(tl.float32)
            acc = acc * alpha + tl.sum(p[:, None] * v, axis=0)
            l_i = l_i * alpha + tl.sum(p, axis=0)
            m_i = m_new
        tl.store(out_ptr + (b * n_q_heads + h) * D + d, acc / l_i)


# ---------------------------------------------------------------------------------------------- dispatch
def add_rmsnorm(x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, eps: float):
    """Residual add + RMSNorm of 2-D ``x [M, N]``; returns ``(normed, new_residual)``."""
    if not triton_enabled(x):
        return add_rmsnorm_ref(x, residual, weight, eps)
    rows, cols = x.shape
    out = torch.empty((rows, cols), device=x.device, dtype=weight.dtype)
    res_out = torch.empty((rows, cols), device=x.device, dtype=x.dtype)
    res = residual if residual is not None else x
    _add_rmsnorm_kernel[(rows,)](x, res, weight, out, res_out, x.stride(0), res.stride(0), cols, eps,
                                 HAS_RES=residual is not None, BLOCK=triton.next_power_of_2(cols),
                                 num_warps=8)
    return out, res_out


def silu_mul(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """``silu(gate) * up`` for 2-D views (row strides may differ from the width)."""
    if not triton_enabled(gate):
        return silu_mul_ref(gate, up)
    rows, cols = gate.shape
    out = torch.empty((rows, cols), device=gate.device, dtype=gate.dtype)
    block = 1024
    _silu_mul_kernel[(rows, triton.cdiv(cols, block))](gate, up, out, gate.stride(0), up.stride(0), cols,
                                                       BLOCK=block, num_warps=4)
    return out


def rope_write_cache(q, k, v, pos, inv_freq, scaling, k_cache, v_cache, write_idx):
    """Rotary embedding + cache write for one token per row; returns rotated q ``[B, Hq, D]``.

    ``q``, ``k``, ``v`` are ``[B, H, D]`` views whose heads are contiguous (row stride free);
    ``k_cache``/``v_cache`` are ``[B, Hkv, S, D]``; ``write_idx`` is a 1-element int tensor.
    """
    if not triton_enabled(q):
        return rope_write_cache_ref(q, k, v, pos, inv_freq, scaling, k_cache, v_cache, write_idx)
    bsz, n_q, head_dim = q.shape
    n_kv = k.shape[1]
    q_out = torch.empty((bsz, n_q, head_dim), device=q.device, dtype=q.dtype)
    _rope_cache_kernel[(bsz, n_q + n_kv)](
        q, k, v, q.stride(0), k.stride(0), v.stride(0), pos, inv_freq, float(scaling), q_out, k_cache, v_cache,
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2), write_idx, n_q, HALF=head_dim // 2,
        num_warps=1)
    return q_out


def decode_attention(q, k_cache, v_cache, start, write_idx, scale: float) -> torch.Tensor:
    """One-token GQA attention; returns ``[B, Hq * D]`` in q's dtype."""
    if not triton_enabled(q):
        return decode_attention_ref(q, k_cache, v_cache, start, write_idx, scale)
    bsz, n_q, head_dim = q.shape
    out = torch.empty((bsz, n_q * head_dim), device=q.device, dtype=q.dtype)
    _decode_attn_kernel[(bsz, n_q)](q, k_cache, v_cache, out, start, write_idx, k_cache.stride(0),
                                    k_cache.stride(1), k_cache.stride(2), float(scale), n_q,
                                    n_q // k_cache.shape[1], D=head_dim, BLOCK_N=64, num_warps=4)
    return out
