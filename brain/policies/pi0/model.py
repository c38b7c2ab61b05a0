"""The π0 network: PaliGemma prefix (SigLIP + Gemma 2B) and a Gemma-300M action expert, flow matching.

Sampling embeds the prefix (camera images and the tokenized prompt) once, runs it through the VLM and
keeps its keys and values; each of the ``num_steps`` Euler steps then runs only the suffix (one state
token and ``chunk_size`` noisy-action tokens) through the expert, attending to the cached prefix.
``sample_actions(..., use_cache=False)`` recomputes the prefix jointly at every step instead; both give
the same actions because prefix tokens never attend to suffix tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from roboos.brain.policies.pi0.config import GemmaSpec, Pi0Config
from roboos.brain.policies.pi0.layers import (
    attend,
    block_mask,
    finish_layer,
    fold_mask,
    fuse_layer,
    project_qkv,
    rope_cos_sin,
    time_embedding,
)
from torch import nn

ATTENTION_IMPLS = ("sdpa", "math", "triton", "fused")  # see layers.attend; "fused": also fused_expert


def check_attention(attention: str) -> str:
    """``attention`` if it names one of :data:`ATTENTION_IMPLS`, else ``ValueError``."""
    if attention not in ATTENTION_IMPLS:
        raise ValueError(f"attention must be one of {ATTENTION_IMPLS}, got {attention!r}")
    return attention


def _gemma(spec: GemmaSpec, eps: float, with_embeddings: bool) -> nn.Module:
    from transformers import GemmaConfig, GemmaModel

    cfg = GemmaConfig(
        vocab_size=spec.vocab_size if with_embeddings else 1,
        hidden_size=spec.width,
        intermediate_size=spec.mlp_dim,
        num_hidden_layers=spec.depth,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        head_dim=spec.head_dim,
        hidden_activation="gelu_pytorch_tanh",
        rms_norm_eps=eps,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=None,
    )
    model = GemmaModel(cfg)
    if not with_embeddings:
        model.embed_tokens = None
    model.rotary_emb = None  # rotary tables are computed here, per position
    return model


def _siglip(cfg: Pi0Config) -> nn.Module:
    from transformers import SiglipVisionConfig, SiglipVisionModel

    v = cfg.vision
    vcfg = SiglipVisionConfig(
        hidden_size=v.hidden_size,
        intermediate_size=v.intermediate_size,
        num_hidden_layers=v.num_layers,
        num_attention_heads=v.num_heads,
        patch_size=v.patch_size,
        image_size=v.image_size,
        hidden_act="gelu_pytorch_tanh",
        layer_norm_eps=1e-6,
        vision_use_head=False,
    )
    vcfg._attn_implementation = "sdpa"
    return SiglipVisionModel(vcfg)


@dataclass
class PrefixCache:
    """Per-layer keys and values of everything the action tokens attend to but that does not change
    between Euler steps: the prefix (images + prompt) and the state token, padded so that with the
    action tokens appended the key length is a multiple of 8."""

    keys: list[torch.Tensor]  # per layer (B, KV, C, D), C = cache length
    values: list[torch.Tensor]
    mask: torch.Tensor  # (B, 1, H * G, C + H) additive attention bias of the action queries (fold_mask)
    length: torch.Tensor  # (B,) real prefix tokens; the state token sits at this position


class Pi0Model(nn.Module):
    """π0 in PyTorch. Inputs are already preprocessed tensors (see :class:`~.policy.Pi0Policy`)."""

    def __init__(self, config: Pi0Config, attention: str = "sdpa"):
        super().__init__()
        self.config = config
        self.attention = check_attention(attention)  # see layers.attend
        self.vision = _siglip(config)
        self.projector = nn.Linear(config.vision.hidden_size, config.vlm.width)
        self.vlm = _gemma(config.vlm, config.rms_norm_eps, with_embeddings=True)
        self.expert = _gemma(config.expert, config.rms_norm_eps, with_embeddings=False)
        w = config.expert.width
        self.state_proj = nn.Linear(config.state_dim, w)
        self.action_in_proj = nn.Linear(config.action_dim, w)
        self.action_time_mlp_in = nn.Linear(2 * w, w)
        self.action_time_mlp_out = nn.Linear(w, w)
        self.action_out_proj = nn.Linear(w, config.action_dim)
        ar = torch.zeros(config.suffix_len, dtype=torch.bool)
        ar[:2] = True  # the state token and the first action token each open a new block
        self.register_buffer("suffix_ar", ar, persistent=False)

    # ------------------------------------------------------------------ embeddings
    @property
    def dtype(self) -> torch.dtype:
        """The activation dtype (read off a norm, which quantisation never touches)."""
        return self.expert.norm.weight.dtype

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, 3, S, S) images in [-1, 1] → (B, C * tokens_per_image, vlm width)."""
        b, c = images.shape[:2]
        flat = images.reshape(b * c, *images.shape[2:]).to(self.dtype)
        feats = self.vision(pixel_values=flat).last_hidden_state
        return self.projector(feats).reshape(b, -1, self.config.vlm.width)

    def embed_prefix(
        self, images: torch.Tensor, image_masks: torch.Tensor, tokens: torch.Tensor, token_masks: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prefix embeddings (B, P, W) and padding mask (B, P)."""
        img = self.embed_images(images)
        per_image = self.config.vision.tokens_per_image
        img_pad = image_masks.to(torch.bool).repeat_interleave(per_image, dim=1)
        table = self.vlm.embed_tokens.weight
        lang = F.embedding(tokens, table) * math.sqrt(self.config.vlm.width)
        return torch.cat([img, lang.to(img.dtype)], dim=1), torch.cat(
            [img_pad, token_masks.to(torch.bool)], dim=1
        )

    def embed_state(self, state: torch.Tensor) -> torch.Tensor:
        """The state token (B, 1, expert width)."""
        return self.state_proj(state.to(self.dtype))[:, None]

    def embed_actions(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Noisy action tokens fused with the time embedding → (B, H, expert width)."""
        dt = self.dtype
        act = self.action_in_proj(x_t.to(dt))
        w = self.config.expert.width
        temb = time_embedding(t, w, self.config.min_period, self.config.max_period).to(dt)
        fused = torch.cat([act, temb[:, None].expand(-1, act.shape[1], -1)], dim=-1)
        return self.action_time_mlp_out(F.silu(self.action_time_mlp_in(fused)))

    # ------------------------------------------------------------------ transformer passes
    @property
    def _groups(self) -> int:
        return self.config.vlm.num_heads // self.config.vlm.num_kv_heads

    def fuse(self) -> Pi0Model:
        """Fuse q/k/v and gate/up projections of both Gemma stacks (inference only; after loading)."""
        for spec, stack in ((self.config.vlm, self.vlm), (self.config.expert, self.expert)):
            for layer in stack.layers:
                fuse_layer(layer, spec.num_heads, spec.num_kv_heads)
        return self

    def prefix_kv(self, prefix: torch.Tensor, pad: torch.Tensor, state: torch.Tensor) -> PrefixCache:
        """Run the prefix through the VLM and the state token through the expert, once per chunk.

        Prefix tokens attend bidirectionally to each other; the state token attends to the prefix and
        itself. Neither sees the action tokens, so their keys and values are the same at every step.
        """
        cfg = self.config
        hd, g, h = cfg.vlm.head_dim, self._groups, cfg.chunk_size
        b, p = pad.shape
        cache_len = -(-(p + 1 + h) // 16) * 16 - h  # keys padded to a multiple of 16 (aligned bias)
        positions = torch.cumsum(pad.to(torch.int64), dim=1) - 1
        length = pad.to(torch.int64).sum(dim=1)
        cos, sin = rope_cos_sin(positions, hd, cfg.rope_theta, prefix.dtype)
        dt = prefix.dtype
        mask = fold_mask(block_mask(pad, torch.zeros(p, dtype=torch.bool, device=pad.device))[:, None], g, dt)
        # state token: prefix (padding-masked) + itself
        s_cos, s_sin = rope_cos_sin(length[:, None], hd, cfg.rope_theta, prefix.dtype)
        s_mask = fold_mask(
            torch.cat([pad, torch.ones(b, 1, dtype=torch.bool, device=pad.device)], 1)[:, None, None], g, dt
        )
        tail = cache_len - p - 1
        keys, values = [], []
        hidden, s_hidden = prefix, self.embed_state(state)
        last = len(self.vlm.layers) - 1
        for i, (lp, ls) in enumerate(zip(self.vlm.layers, self.expert.layers, strict=True)):
            q, k, v = project_qkv(lp, hidden, cos, sin, hd)
            if i < last:  # the last layer's prefix outputs are never used
                hidden = finish_layer(lp, hidden, attend(q, k, v, mask, self.attention))
            sq, sk, sv = project_qkv(ls, s_hidden, s_cos, s_sin, hd)
            k_all, v_all = torch.cat([k, sk], dim=2), torch.cat([v, sv], dim=2)
            if i < last:
                s_hidden = finish_layer(ls, s_hidden, attend(sq, k_all, v_all, s_mask, self.attention))
            if tail:
                zeros = k_all.new_zeros(b, k_all.shape[1], tail, hd)
                k_all, v_all = torch.cat([k_all, zeros], dim=2), torch.cat([v_all, zeros], dim=2)
            keys.append(k_all)
            values.append(v_all)
        key_valid = torch.cat(
            [
                pad,
                torch.ones(b, 1, dtype=torch.bool, device=pad.device),
                torch.zeros(b, tail, dtype=torch.bool, device=pad.device),
                torch.ones(b, h, dtype=torch.bool, device=pad.device),
            ],
            dim=1,
        )
        act_mask = fold_mask(key_valid[:, None, None, :].expand(b, 1, h, key_valid.shape[1]), g, dt)
        return PrefixCache(keys, values, act_mask, length)

    def denoise_step(self, cache: PrefixCache, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Velocity v(x_t, t) (B, H, action_dim): only the action tokens run, attending to the cache."""
        hd = self.config.vlm.head_dim
        hidden = self.embed_actions(x_t, t)
        h = hidden.shape[1]
        positions = cache.length[:, None] + 1 + torch.arange(h, device=hidden.device)[None]
        cos, sin = rope_cos_sin(positions, hd, self.config.rope_theta, hidden.dtype)
        for i, layer in enumerate(self.expert.layers):
            q, k, v = project_qkv(layer, hidden, cos, sin, hd)
            k = torch.cat([cache.keys[i], k], dim=2)
            v = torch.cat([cache.values[i], v], dim=2)
            hidden = finish_layer(layer, hidden, attend(q, k, v, cache.mask, self.attention))
        return self.action_out_proj(self.expert.norm(hidden)).to(torch.float32)

    def joint_step(
        self, prefix: torch.Tensor, pad: torch.Tensor, state: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """The same velocity without a cache: prefix, state and actions run jointly through both stacks."""
        hd = self.config.vlm.head_dim
        suffix = torch.cat([self.embed_state(state), self.embed_actions(x_t, t)], dim=1)
        b, p = pad.shape
        s = suffix.shape[1]
        full_pad = torch.cat([pad, torch.ones(b, s, dtype=torch.bool, device=pad.device)], dim=1)
        ar = torch.cat([torch.zeros(p, dtype=torch.bool, device=pad.device), self.suffix_ar])
        mask = fold_mask(block_mask(full_pad, ar)[:, None], self._groups, prefix.dtype)
        positions = torch.cumsum(full_pad.to(torch.int64), dim=1) - 1
        cos, sin = rope_cos_sin(positions, hd, self.config.rope_theta, prefix.dtype)
        hp, hs = prefix, suffix
        for lp, ls in zip(self.vlm.layers, self.expert.layers, strict=True):
            qp, kp, vp = project_qkv(lp, hp, cos[:, :p], sin[:, :p], hd)
            qs, ks, vs = project_qkv(ls, hs, cos[:, p:], sin[:, p:], hd)
            out = attend(
                torch.cat([qp, qs], 1), torch.cat([kp, ks], 2), torch.cat([vp, vs], 2), mask, self.attention
            )
            hp = finish_layer(lp, hp, out[:, :p])
            hs = finish_layer(ls, hs, out[:, p:])
        out = self.expert.norm(hs)[:, -self.config.chunk_size :]
        return self.action_out_proj(out).to(torch.float32)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample_actions(
        self,
        images: torch.Tensor,
        image_masks: torch.Tensor,
        tokens: torch.Tensor,
        token_masks: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None = None,
        num_steps: int | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Integrate the flow from noise (t = 1) to actions (t = 0) with Euler steps → (B, H, action_dim)."""
        cfg = self.config
        steps = num_steps or cfg.num_steps
        b = state.shape[0]
        if noise is None:
            noise = torch.randn(b, cfg.chunk_size, cfg.action_dim, device=state.device, dtype=torch.float32)
        prefix, pad = self.embed_prefix(images, image_masks, tokens, token_masks)
        cache = self.prefix_kv(prefix, pad, state) if use_cache else None
        fused = None
        if cache is not None and self.attention == "fused":  # Triton expert layers (fused_expert.py)
            from roboos.brain.policies.pi0 import fused_expert

            fused = fused_expert.prepare(self, cache, b)
        x = noise.to(torch.float32)
        dt = -1.0 / steps
        for k in range(steps):
            t = torch.full((b,), 1.0 + k * dt, device=x.device, dtype=torch.float32)
            if fused is not None:
                v = fused_expert.denoise_step(self, fused, x, t)
            elif cache is not None:
                v = self.denoise_step(cache, x, t)
            else:
                v = self.joint_step(prefix, pad, state, x, t)
            x = x + dt * v
        return x


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
