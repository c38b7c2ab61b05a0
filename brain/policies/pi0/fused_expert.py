"""The action expert's denoising step on the fused Triton kernels of :mod:`.expert_triton`
(``Pi0Model(attention="fused")``).

Per chunk, :func:`prepare` allocates the step's buffers once: per-layer key/value buffers holding the cached
prefix with room for the action tokens' keys and values (the kernels write them in place, so no
concatenation per step), fp32 rotary tables for the action positions, the fp32 residual stream and the
query / MLP scratch. :func:`denoise_step` then runs per layer four fused kernels plus attention (two
matmuls and a float32 softmax, compiled with the small embedding and output head when the model is
compiled), or, with :data:`ATTENTION` = ``"split"``, one key-split Triton attention kernel
(``attention_triton.py``) on a per-chunk workspace. The prefix pass is unchanged (``attention="fused"`` runs
it with the math attention).

With :data:`PRENORM` (default) each residual kernel also writes the next RMSNorm's inputs (bf16 ``h·(1 + w)``
and row sums of h², see ``expert_triton.NormOut``), so the q/k/v and gate/up GEMMs load bf16 activations
through their software pipeline; one small :func:`~.expert_triton.rms_prep` kernel per step feeds the first
layer (on an H100: 13.5 ms per chunk vs 14.9 ms with the norm in the GEMM prologue, docs/vla.md).
``PRENORM = False`` runs the fourth round's kernels (the norm in the GEMM prologue) instead. A W8A16 expert
(per-channel int8 weights, see :func:`weight_and_scale`) runs on the pre-normed kernels; :func:`supports`
tells whether a model's expert can run here at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from roboos.brain.policies.pi0 import attention_triton
from roboos.brain.policies.pi0.expert_triton import (
    BLOCK_M,
    TILES,
    NormOut,
    gate_up_gelu,
    gemm_residual,
    norm_gate_up_gelu,
    norm_qkv_rope,
    partials,
    qkv_rope,
    rms_prep,
)
from roboos.brain.policies.pi0.layers import attend, rope_cos_sin

if TYPE_CHECKING:
    from roboos.brain.policies.pi0.model import Pi0Model, PrefixCache


@dataclass
class FusedState:
    """Buffers of one chunk's denoising steps (see :func:`prepare`)."""

    keys: list[torch.Tensor]  # per layer (B, 1, C + H, D): cached prefix, then the action tokens' keys
    values: list[torch.Tensor]
    mask: torch.Tensor  # (B, 1, H·G, C + H) additive bias
    cos: torch.Tensor  # (B·H, D) fp32
    sin: torch.Tensor
    hidden: torch.Tensor  # (B·H, W) fp32 residual stream
    q: torch.Tensor  # (B·H, NQ·D) rotated queries, token-major
    act: torch.Tensor  # (B·H, F) gelu(gate)·up
    offset: int  # C: where the action tokens' keys start
    normed: torch.Tensor  # (B·H, W) bf16 h·(1 + w) of the next RMSNorm (PRENORM)
    ss: dict[str, torch.Tensor]  # row-sum partials of h² by writer: "prep" (B·H, 1), "o", "down" (B·H, P)
    counters: torch.Tensor  # int32 zeros: split-K tile counters of the residual kernels
    attn_ws: attention_triton.AttentionWorkspace | None  # the key-split attention's scratch (ATTENTION "split")


PRENORM = True  # False: the fourth round's norm-in-prologue kernels (for comparison)
ATTENTION = "math"  # the expert's attention: "math" (two matmuls + softmax, compiled) or "split" (one kernel)
ATTENTION_SPLITS: int | None = None  # key slices of the "split" kernel (None: attention_triton.default_splits)


def prepare(model: Pi0Model, cache: PrefixCache, batch: int) -> FusedState:
    """Allocate the chunk's buffers and copy the cached prefix keys/values into the per-layer buffers."""
    cfg = model.config
    spec = cfg.expert
    if spec.num_kv_heads != 1:
        raise ValueError("the fused expert kernels need one KV head (π0's Gemma has one)")
    model.fuse()  # the kernels read the fused qkv_proj / gate_up_proj weights (no-op when fused)
    h, d = cfg.chunk_size, spec.head_dim
    keys, values = [], []
    for k, v in zip(cache.keys, cache.values, strict=True):
        c = k.shape[2]
        kf = k.new_empty(batch, 1, c + h, d)
        vf = v.new_empty(batch, 1, c + h, d)
        kf[:, :, :c].copy_(k)
        vf[:, :, :c].copy_(v)
        keys.append(kf)
        values.append(vf)
    offset = cache.keys[0].shape[2]
    dev, dt = cache.mask.device, model.dtype
    positions = cache.length[:, None] + 1 + torch.arange(h, device=dev)[None]
    cos, sin = rope_cos_sin(positions, d, cfg.rope_theta, torch.float32)
    m = batch * h
    w, inner = spec.width, spec.num_heads * d
    attn_ws = None
    if ATTENTION == "split":
        attn_ws = attention_triton.plan(batch, 1, h * spec.num_heads, offset + h, d, dev,
                                        ATTENTION_SPLITS).workspace(d, dev)
    ss = {"prep": torch.empty(m, 1, device=dev, dtype=torch.float32),
          "o": torch.empty(m, partials(w, inner, TILES["o"]), device=dev, dtype=torch.float32),
          "down": torch.empty(m, partials(w, spec.mlp_dim, TILES["down"]), device=dev, dtype=torch.float32)}
    return FusedState(
        keys=keys,
        values=values,
        mask=cache.mask,
        cos=cos.reshape(m, d).contiguous(),
        sin=sin.reshape(m, d).contiguous(),
        hidden=torch.empty(m, spec.width, device=dev, dtype=torch.float32),
        q=torch.empty(m, spec.num_heads * d, device=dev, dtype=dt),
        act=torch.empty(m, spec.mlp_dim, device=dev, dtype=dt),
        offset=offset,
        normed=torch.empty(m, w, device=dev, dtype=dt),
        ss=ss,
        counters=torch.zeros(-(-m // BLOCK_M) * w, device=dev, dtype=torch.int32),
        attn_ws=attn_ws,
    )


def _head(model: Pi0Model, hidden: torch.Tensor) -> torch.Tensor:
    return model.action_out_proj(model.expert.norm(hidden.to(model.dtype))).to(torch.float32)


def _fns(model: Pi0Model) -> dict[str, Callable[..., Any]]:
    """Attention, action embedding and output head; through ``torch.compile`` when the model is compiled."""
    fns = model.__dict__.get("_fused_fns")
    compiled = bool(getattr(model, "_roboos_compiled", False))
    if fns is None or fns["compiled"] is not compiled:
        attn = partial(attend, impl="math")
        embed = type(model).embed_actions.__get__(model)
        head = partial(_head, model)
        if compiled:
            attn, embed, head = (torch.compile(f, dynamic=False) for f in (attn, embed, head))
        fns = {"compiled": compiled, "attend": attn, "embed": embed, "head": head}
        model.__dict__["_fused_fns"] = fns
    return fns


def denoise_step(model: Pi0Model, st: FusedState, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Velocity v(x_t, t) (B, H, action_dim), the same function as ``Pi0Model.denoise_step``."""
    fns = _fns(model)
    spec = model.config.expert
    b, h = x_t.shape[:2]
    d, nq = spec.head_dim, spec.num_heads
    st.hidden.copy_(fns["embed"](x_t, t).reshape(b * h, spec.width))

    def attention(i: int) -> torch.Tensor:
        """Layer ``i``'s attention over the cached prefix and the action tokens, rows token-major."""
        if st.attn_ws is not None:  # one KV head: the token-major queries are already the folded rows
            out = attention_triton.fused_attention(st.q.view(b, 1, h * nq, d), st.keys[i], st.values[i], st.mask,
                                                   splits=ATTENTION_SPLITS, workspace=st.attn_ws)
            return out.view(b * h, nq * d)
        return fns["attend"](st.q.view(b, h, nq, d), st.keys[i], st.values[i], st.mask).reshape(b * h, nq * d)

    (_layers_prenormed if PRENORM else _layers_norm_prologue)(model, st, h, attention)
    return fns["head"](st.hidden.view(b, h, spec.width))


def supports(model: Pi0Model) -> bool:
    """Whether the fused kernels can run ``model``'s expert: Triton is there, and every projection is bf16/fp16
    or per-channel W8A16 without bias. Fuses the model's projections, as the fused path does."""
    from roboos.brain.policies.pi0 import expert_triton

    if expert_triton.triton is None or model.config.expert.num_kv_heads != 1:
        return False
    try:
        model.fuse()  # what prepare() does; refuses a model quantized before fusing
        for layer in model.expert.layers:
            for proj in (layer.self_attn.qkv_proj, layer.self_attn.o_proj, layer.mlp.gate_up_proj,
                         layer.mlp.down_proj):
                weight_and_scale(proj)
    except ValueError:
        return False
    return True


def weight_and_scale(linear: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What the fused kernels read of a projection: its bf16 weight, or (W8A16) its int8 weight and per-channel
    scales. Group-wise scales and biases are refused: the kernels apply one scale per output column."""
    scale = getattr(linear, "weight_scale", None)
    if getattr(linear, "bias", None) is not None:
        raise ValueError(f"the fused expert kernels take projections without bias, got {linear}")
    if scale is None:
        return linear.weight, None
    if scale.dim() != 2 or scale.shape[1] != 1:
        raise ValueError("the fused expert kernels take per-channel W8A16 scales (group_size 0), got "
                         f"{tuple(scale.shape)}")
    return linear.weight, scale.view(-1)


def _layers_prenormed(model: Pi0Model, st: FusedState, h: int, attention: Callable[[int], torch.Tensor]) -> None:
    """The expert layers on the pre-normed kernels: each residual kernel writes the next norm's inputs."""
    d = model.config.expert.head_dim
    layers = model.expert.layers
    rms_prep(st.hidden, NormOut(layers[0].input_layernorm.weight, st.normed, st.ss["prep"]))
    ss_in = st.ss["prep"]
    for i, layer in enumerate(layers):
        attn, mlp, post = layer.self_attn, layer.mlp, layer.post_attention_layernorm
        w, s = weight_and_scale(attn.qkv_proj)
        qkv_rope(st.normed, ss_in, w, st.cos, st.sin, st.q, st.keys[i], st.values[i], h, st.offset, d,
                 layer.input_layernorm.eps, scale=s)
        w, s = weight_and_scale(attn.o_proj)
        gemm_residual(attention(i), w, st.hidden, TILES["o"],
                      norm=NormOut(post.weight, st.normed, st.ss["o"], st.counters), scale=s)
        w, s = weight_and_scale(mlp.gate_up_proj)
        gate_up_gelu(st.normed, st.ss["o"], w, st.act, post.eps, scale=s)
        nxt = layers[i + 1].input_layernorm if i + 1 < len(layers) else None
        w, s = weight_and_scale(mlp.down_proj)
        gemm_residual(st.act, w, st.hidden, TILES["down"],
                      norm=NormOut(nxt.weight, st.normed, st.ss["down"], st.counters) if nxt is not None else None,
                      scale=s)
        ss_in = st.ss["down"]


def _layers_norm_prologue(model: Pi0Model, st: FusedState, h: int,
                          attention: Callable[[int], torch.Tensor]) -> None:
    """The fourth round's layers: RMSNorm in the q/k/v and gate/up GEMM prologues (fp32 stream)."""
    if weight_and_scale(model.expert.layers[0].self_attn.o_proj)[1] is not None:
        raise ValueError("W8A16 weights need the pre-normed kernels (fused_expert.PRENORM = True)")
    d = model.config.expert.head_dim
    for i, layer in enumerate(model.expert.layers):
        attn, mlp, post = layer.self_attn, layer.mlp, layer.post_attention_layernorm
        norm_qkv_rope(st.hidden, layer.input_layernorm.weight, attn.qkv_proj.weight, st.cos, st.sin, st.q,
                      st.keys[i], st.values[i], h, st.offset, d, layer.input_layernorm.eps)
        gemm_residual(attention(i), attn.o_proj.weight, st.hidden, TILES["o"])
        norm_gate_up_gelu(st.hidden, post.weight, mlp.gate_up_proj.weight, st.act, post.eps)
        gemm_residual(st.act, mlp.down_proj.weight, st.hidden, TILES["down"])
