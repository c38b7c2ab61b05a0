"""Find the text decoder inside an HF causal LM (Qwen2, Qwen2.5-VL, Qwen3, Llama, Mistral ...) and run
one decode step through its own modules with the fused operators of :mod:`.kernels`.

Linear layers are called as modules (``layer.self_attn.o_proj(x)``), so any drop-in replacement of
``nn.Linear`` — the W8A16 modules of ``roboos.brain.quant`` for instance — runs unchanged. Only where all
of q/k/v (or gate/up) are plain ``nn.Linear`` does :func:`fuse_projections` point their weights into one
contiguous buffer (no extra copy is kept) so one GEMV replaces three.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from roboos.brain.engine import kernels


class UnsupportedModelError(ValueError):
    """The model's decoder does not have the layout the fast engine drives."""


@dataclass
class FusedLinear:
    """One GEMV standing in for several ``nn.Linear`` that share an input (weights are views of it)."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    splits: list[int]

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.nn.functional.linear(x, self.weight, self.bias).split(self.splits, dim=-1))


@dataclass
class LayerParts:
    """The modules of one decoder layer the decode step needs."""

    input_norm: nn.Module
    post_norm: nn.Module
    attn: nn.Module
    mlp: nn.Module
    qkv: FusedLinear | None = None
    gate_up: FusedLinear | None = None


@dataclass
class DecoderParts:
    """Embedding, layers, final norm, LM head and rotary parameters of a decoder-only text model."""

    embed: nn.Module
    layers: list[LayerParts]
    norm: nn.Module
    lm_head: nn.Module
    inv_freq: torch.Tensor
    rope_scaling: float
    n_heads: int
    n_kv_heads: int
    head_dim: int
    attn_scale: float
    vocab_size: int
    extras: dict = field(default_factory=dict)


def _eps(norm: nn.Module) -> float:
    for name in ("variance_epsilon", "eps"):
        if hasattr(norm, name):
            return float(getattr(norm, name))
    raise UnsupportedModelError(f"cannot read the epsilon of norm {type(norm).__name__}")


def _text_model(model: nn.Module) -> nn.Module:
    candidates = [model]
    inner = getattr(model, "model", None)
    if inner is not None:
        candidates += [getattr(inner, "language_model", None), inner]
    candidates.append(getattr(model, "language_model", None))
    for cand in candidates:
        if cand is not None and hasattr(cand, "layers") and hasattr(cand, "embed_tokens"):
            return cand
    raise UnsupportedModelError(f"{type(model).__name__}: no text decoder with embed_tokens/layers found")


def find_decoder(model: nn.Module) -> DecoderParts:
    """Locate the decoder parts of ``model`` or raise :class:`UnsupportedModelError`."""
    text = _text_model(model)
    lm_head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if lm_head is None:
        raise UnsupportedModelError("model has no output embeddings (lm_head)")
    rotary = getattr(text, "rotary_emb", None)
    if rotary is None or not hasattr(rotary, "inv_freq"):
        raise UnsupportedModelError("decoder has no rotary_emb.inv_freq")
    cfg = getattr(text, "config", None) or model.config
    act = getattr(cfg, "hidden_act", "silu")
    if act not in ("silu", "swish"):
        raise UnsupportedModelError(f"activation {act!r} is not SwiGLU")
    if getattr(cfg, "use_sliding_window", False):
        raise UnsupportedModelError("sliding-window attention is not supported by the fast engine")
    layers = []
    for layer in text.layers:
        attn, mlp = layer.self_attn, layer.mlp
        for owner, names in ((attn, ("q_proj", "k_proj", "v_proj", "o_proj")),
                             (mlp, ("gate_proj", "up_proj", "down_proj"))):
            missing = [n for n in names if not hasattr(owner, n)]
            if missing:
                raise UnsupportedModelError(f"layer lacks {missing}")
        layers.append(LayerParts(layer.input_layernorm, layer.post_attention_layernorm, attn, mlp))
    first = text.layers[0].self_attn
    head_dim = int(getattr(first, "head_dim", cfg.hidden_size // cfg.num_attention_heads))
    return DecoderParts(
        embed=text.embed_tokens, layers=layers, norm=text.norm, lm_head=lm_head,
        inv_freq=rotary.inv_freq.detach().float().clone(), rope_scaling=float(getattr(rotary, "attention_scaling", 1.0)),
        n_heads=int(cfg.num_attention_heads), n_kv_heads=int(getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)),
        head_dim=head_dim, attn_scale=float(getattr(first, "scaling", head_dim ** -0.5)),
        vocab_size=int(lm_head.weight.shape[0]) if hasattr(lm_head, "weight") else int(cfg.vocab_size),
    )


def _fuse(modules: list[nn.Module]) -> FusedLinear | None:
    fuser = getattr(type(modules[0]), "fuse_group", None)  # e.g. roboos.brain.quant.W8A16Linear
    if fuser is not None and all(type(m) is type(modules[0]) for m in modules):
        return fuser(modules)
    if not all(type(m) is nn.Linear for m in modules):
        return None
    weights = [m.weight for m in modules]
    if len({(w.dtype, w.device, w.shape[1]) for w in weights}) != 1:
        return None
    has_bias = [m.bias is not None for m in modules]
    if any(has_bias) and not all(has_bias):
        return None
    fused_w = torch.cat([w.detach() for w in weights], dim=0)
    fused_b = torch.cat([m.bias.detach() for m in modules], dim=0) if all(has_bias) else None
    splits = [w.shape[0] for w in weights]
    offset = 0
    for module, rows in zip(modules, splits):  # re-point the originals into the fused buffer
        module.weight = nn.Parameter(fused_w[offset:offset + rows], requires_grad=False)
        if fused_b is not None:
            module.bias = nn.Parameter(fused_b[offset:offset + rows], requires_grad=False)
        offset += rows
    return FusedLinear(fused_w, fused_b, splits)


def fuse_projections(parts: DecoderParts) -> int:
    """Fuse q/k/v and gate/up GEMVs; returns how many groups fused.

    Plain ``nn.Linear`` groups share one weight buffer; a Linear replacement class may offer a static
    ``fuse_group(modules)`` returning a callable ``fused(x) -> [y_q, y_k, y_v]`` (W8A16 does), else its
    modules are called one by one.
    """
    count = 0
    for layer in parts.layers:
        a, m = layer.attn, layer.mlp
        layer.qkv = layer.qkv or _fused_once(a, "_roboos_fused_qkv", [a.q_proj, a.k_proj, a.v_proj])
        layer.gate_up = layer.gate_up or _fused_once(m, "_roboos_fused_gate_up", [m.gate_proj, m.up_proj])
        count += (layer.qkv is not None) + (layer.gate_up is not None)
    return count


def _fused_once(owner: nn.Module, attr: str, modules: list[nn.Module]) -> FusedLinear | None:
    """Fuse once per model: a second engine on the same model reuses the fused group while the same
    module objects are in place (and, for ``nn.Linear``, still point into the fused buffer)."""
    cached = owner.__dict__.get(attr)
    ids = [id(mod) for mod in modules]
    if cached is not None and cached[0] == ids and cached[1] is not None:
        fused = cached[1]
        plain = [mod for mod in modules if type(mod) is nn.Linear]
        if all(mod.weight.untyped_storage().data_ptr() == fused.weight.untyped_storage().data_ptr() for mod in plain):
            return fused
    fused = _fuse(modules)
    owner.__dict__[attr] = (ids, fused)
    return fused


@dataclass
class StepState:
    """Device tensors one decode step reads (static addresses, so a CUDA graph can replay the step)."""

    tokens: torch.Tensor      # [B] int64: the last token of each row
    positions: torch.Tensor   # [B] int32: its rotary position
    start: torch.Tensor       # [B] int32: first valid cache slot (left padding)
    write_idx: torch.Tensor   # [1] int32: the cache slot this step writes
    k_cache: list[torch.Tensor]
    v_cache: list[torch.Tensor]


def decode_step(parts: DecoderParts, state: StepState) -> torch.Tensor:
    """Run one token per row through the decoder; returns float32 logits ``[B, V]``."""
    bsz = state.tokens.shape[0]
    hidden = parts.embed(state.tokens)
    residual: torch.Tensor | None = None
    nq, nkv, hd = parts.n_heads, parts.n_kv_heads, parts.head_dim
    for i, layer in enumerate(parts.layers):
        x, residual = kernels.add_rmsnorm(hidden, residual, layer.input_norm.weight, _eps(layer.input_norm))
        if layer.qkv is not None:
            q, k, v = layer.qkv(x)
        else:
            q, k, v = layer.attn.q_proj(x), layer.attn.k_proj(x), layer.attn.v_proj(x)
        q, k, v = q.view(bsz, nq, hd), k.view(bsz, nkv, hd), v.view(bsz, nkv, hd)
        if hasattr(layer.attn, "q_norm"):  # Qwen3-style per-head norms
            q, k = layer.attn.q_norm(q), layer.attn.k_norm(k)
        q = kernels.rope_write_cache(q, k, v, state.positions, parts.inv_freq, parts.rope_scaling,
                                     state.k_cache[i], state.v_cache[i], state.write_idx)
        attn = kernels.decode_attention(q, state.k_cache[i], state.v_cache[i], state.start, state.write_idx,
                                        parts.attn_scale)
        hidden = layer.attn.o_proj(attn)
        x, residual = kernels.add_rmsnorm(hidden, residual, layer.post_norm.weight, _eps(layer.post_norm))
        if layer.gate_up is not None:
            gate, up = layer.gate_up(x)
        else:
            gate, up = layer.mlp.gate_proj(x), layer.mlp.up_proj(x)
        hidden = layer.mlp.down_proj(kernels.silu_mul(gate, up))
    x, _ = kernels.add_rmsnorm(hidden, residual, parts.norm.weight, _eps(parts.norm))
    return parts.lm_head(x).float()
