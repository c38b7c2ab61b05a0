"""Building blocks of π0's mixture of two Gemma stacks: rotary embedding, per-stack QKV and MLP, masks.

The VLM (PaliGemma's Gemma) and the action expert keep separate weights but attend jointly: at every
layer each stack projects its own tokens to queries, keys and values, attention runs over the union, and
each stack applies its own output projection and MLP. These helpers work on transformers'
``GemmaDecoderLayer`` modules (their ``q_proj`` … ``mlp`` submodules), so checkpoints keep HF key names.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def rope_cos_sin(
    positions: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary tables for integer ``positions`` (B, T): cos and sin of shape (B, T, 1, head_dim)."""
    inv_freq = 1.0 / (
        theta ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
    )
    freqs = positions.to(torch.float32)[..., None] * inv_freq
    emb = torch.cat([freqs, freqs], dim=-1)[:, :, None]
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + _rotate_half(x) * sin


def project_qkv(
    layer: nn.Module, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, head_dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pre-norm and project ``hidden`` (B, T, W) to rotated queries (B, T, H, D) — token-major, so the
    attention below needs no copies — and keys, values (B, KV, T, D).

    Uses the fused ``qkv_proj`` that :func:`fuse_layer` adds, when present (one GEMM instead of three).
    """
    h = layer.input_layernorm(hidden)
    b, t, _ = h.shape
    attn = layer.self_attn
    fused = getattr(attn, "qkv_proj", None)
    if fused is not None:
        heads, kv = attn.roboos_heads
        q, k, v = fused(h).split([heads * head_dim, kv * head_dim, kv * head_dim], dim=-1)
    else:
        q, k, v = attn.q_proj(h), attn.k_proj(h), attn.v_proj(h)
    q = apply_rope(q.view(b, t, -1, head_dim), cos, sin)
    k = apply_rope(k.view(b, t, -1, head_dim), cos, sin).transpose(1, 2)
    return q, k, v.view(b, t, -1, head_dim).transpose(1, 2)


def fold_mask(mask: torch.Tensor, groups: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention bias (B, 1, Tq·groups, Tk) from a boolean (B, 1, Tq, Tk) mask (True = may
    attend), with rows in the folded query order of :func:`attend` (token-major, then head in group)."""
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))
    return bias if groups == 1 else bias.repeat_interleave(groups, dim=2)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, impl: str = "sdpa"
) -> torch.Tensor:
    """Grouped-query attention without copying keys: the query heads sharing a KV head are folded into
    the query axis. ``q`` (B, Tq, H, D), ``k``/``v`` (B, KV, Tk, D), ``bias`` from :func:`fold_mask`.
    Returns (B, Tq, H·D); with one KV head (π0) every reshape here is a view.

    ``impl="sdpa"`` calls ``scaled_dot_product_attention`` (PyTorch picks the kernel); ``"math"`` writes it
    as two matmuls and a float32 softmax, which for π0's short, single-KV-head attention launches small,
    well-occupied GEMMs instead of an attention kernel with only a handful of thread blocks; ``"triton"``
    runs all of it in one fused kernel (:mod:`~roboos.brain.policies.pi0.attention_triton`, CUDA only).
    """
    b, tq, h, d = q.shape
    kv = k.shape[1]
    g = h // kv
    qf = q.view(b, tq, kv, g, d).permute(0, 2, 1, 3, 4).reshape(b, kv, tq * g, d)
    scale = 1.0 / math.sqrt(d)
    if impl == "triton":
        from roboos.brain.policies.pi0.attention_triton import fused_attention

        out = fused_attention(qf, k, v, bias, scale)
    elif impl in ("math", "fused"):  # "fused" runs the expert on fused_expert; elsewhere it is "math"
        scores = torch.matmul(qf, k.transpose(-1, -2)).float() * scale + bias.float()
        out = torch.matmul(torch.softmax(scores, dim=-1).to(v.dtype), v)
    else:
        out = F.scaled_dot_product_attention(qf, k, v, attn_mask=bias, scale=scale)
    return out.view(b, kv, tq, g, d).permute(0, 2, 1, 3, 4).reshape(b, tq, h * d)


def finish_layer(layer: nn.Module, hidden: torch.Tensor, attn_out: torch.Tensor) -> torch.Tensor:
    """Output projection, residual, post-norm MLP and residual of one Gemma layer."""
    hidden = hidden + layer.self_attn.o_proj(attn_out)
    h = layer.post_attention_layernorm(hidden)
    mlp = layer.mlp
    fused = getattr(mlp, "gate_up_proj", None)
    if fused is not None:
        gate, up = fused(h).chunk(2, dim=-1)
        return hidden + mlp.down_proj(mlp.act_fn(gate) * up)
    return hidden + mlp(h)


def _refuse_quantized(*projections: nn.Module) -> None:
    """A fused projection is built from 16-bit weights: quantized ones (W8A16) cannot be concatenated."""
    if any(hasattr(p, "weight_scale") for p in projections):
        raise ValueError("fuse the model before quantizing it: the fused projections are built from 16-bit "
                         "weights (Pi0Policy and the benchmark do it in that order)")


@torch.no_grad()
def fuse_layer(layer: nn.Module, num_heads: int, num_kv_heads: int) -> None:
    """Inference-time fusion of one Gemma layer: q/k/v into ``qkv_proj``, gate/up into ``gate_up_proj``.

    The separate projections are removed, so the state dict changes: fuse after loading a checkpoint.
    """
    attn, mlp = layer.self_attn, layer.mlp
    if getattr(attn, "qkv_proj", None) is None:
        _refuse_quantized(attn.q_proj, attn.k_proj, attn.v_proj)
        w = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight], dim=0)
        attn.qkv_proj = nn.Linear(w.shape[1], w.shape[0], bias=False, device=w.device, dtype=w.dtype)
        attn.qkv_proj.weight.copy_(w)
        attn.roboos_heads = (num_heads, num_kv_heads)
        del attn.q_proj, attn.k_proj, attn.v_proj
    if getattr(mlp, "gate_up_proj", None) is None:
        _refuse_quantized(mlp.gate_proj, mlp.up_proj)
        w = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight], dim=0)
        mlp.gate_up_proj = nn.Linear(w.shape[1], w.shape[0], bias=False, device=w.device, dtype=w.dtype)
        mlp.gate_up_proj.weight.copy_(w)
        del mlp.gate_proj, mlp.up_proj


def block_mask(pad: torch.Tensor, ar: torch.Tensor) -> torch.Tensor:
    """2-D attention mask from padding (B, T) and block-causal markers ``ar`` (T,) as in π0.

    Token i may attend to token j when both are real and j's block starts no later than i's. Each token
    may always attend to itself, so padded rows stay finite (their outputs are never used).
    """
    blocks = torch.cumsum(ar.to(torch.int32), dim=0)
    causal = blocks[None, :] <= blocks[:, None]
    mask = causal[None] & pad[:, None, :] & pad[:, :, None]
    eye = torch.eye(pad.shape[1], dtype=torch.bool, device=pad.device)
    return mask | eye[None]


def time_embedding(t: torch.Tensor, width: int, min_period: float, max_period: float) -> torch.Tensor:
    """Sine-cosine embedding of flow-matching times ``t`` (B,) → (B, width), computed in float32."""
    if width % 2:
        raise ValueError("time embedding width must be even")
    fraction = torch.linspace(0.0, 1.0, width // 2, dtype=torch.float32, device=t.device)
    period = min_period * (max_period / min_period) ** fraction
    angle = t.to(torch.float32)[:, None] * (2.0 * math.pi / period)[None, :]
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
