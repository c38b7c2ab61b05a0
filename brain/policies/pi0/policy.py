"""π0 as a :class:`~roboos.brain.policies.base.Policy`: observation in, de-normalised action chunk out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from roboos.brain.policies.base import Policy
from roboos.brain.policies.normalize import NormStats
from roboos.brain.policies.observation import parse_observation
from roboos.brain.policies.pi0.config import Pi0Config, preset
from roboos.brain.policies.pi0.model import Pi0Model, check_attention
from roboos.brain.policies.pi0.runner import EagerSampler, GraphSampler
from roboos.brain.policies.tokenizer import PromptTokenizer, load_prompt_tokenizer


@dataclass
class Pi0Input:
    images: list[np.ndarray | None]  # per camera (H, W, 3) uint8, None when absent
    tokens: np.ndarray
    token_mask: np.ndarray
    state: np.ndarray  # normalised, padded to state_dim


def resize_with_pad(image: torch.Tensor, size: int) -> torch.Tensor:
    """(3, H, W) float in [0, 1] → (3, size, size): keep the aspect ratio, pad with black (openpi style)."""
    _, h, w = image.shape
    if (h, w) == (size, size):
        return image
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = F.interpolate(image[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
    top, left = (size - nh) // 2, (size - nw) // 2
    return F.pad(resized, (left, size - nw - left, top, size - nh - top), value=0.0)


class Pi0Policy(Policy):
    """Runs a :class:`Pi0Model` eagerly or through a CUDA-graph sampler."""

    name = "pi0"

    def __init__(
        self,
        model: Pi0Model,
        tokenizer: PromptTokenizer,
        *,
        norm_stats: NormStats | None = None,
        action_dim: int | None = None,
        required_cameras: tuple[str, ...] | None = None,
        mode: str = "auto",
        compile: bool = False,
        quant: str | None = None,
        seed: int | None = None,
        max_batch: int = 8,
        attention: str | None = None,
    ):
        self.model = model.eval()
        if attention is not None:
            model.attention = check_attention(attention)
        self.config: Pi0Config = model.config
        self.tokenizer = tokenizer
        self.norm_stats = norm_stats or NormStats()
        self.device = next(model.parameters()).device
        self.required = required_cameras or self.config.cameras[:1]
        unknown = set(self.required) - set(self.config.cameras)
        if unknown:
            raise ValueError(f"required cameras {sorted(unknown)} are not among {list(self.config.cameras)}")
        self.action_dim = action_dim or self.norm_stats.action_dim or self.config.action_dim
        use_graph = mode == "graph" or (mode == "auto" and self.device.type == "cuda")
        if use_graph or quant:
            model.fuse()  # fused q/k/v and gate/up projections: fewer, larger GEMMs
        if quant == "w8a16":
            from roboos.brain.quant import quantize

            quantize(model)
        elif quant:
            raise ValueError(f"unknown quantization {quant!r} (only 'w8a16')")
        if attention is None and use_graph and compile and self.device.type == "cuda":
            # measured on an H100 (docs/vla.md): the fused Triton expert 13.5 ms per chunk, compiled matmul +
            # softmax ("math") 16.2 ms in the same run, cuDNN SDPA 22.3 ms; with a W8A16 expert 15.1 ms fused
            # against 17.5 ms math. The fused kernels take bf16 or per-channel W8A16 weights.
            from roboos.brain.policies.pi0 import fused_expert

            model.attention = "fused" if fused_expert.supports(model) else "math"
        self.quant = quant
        self.sampler = GraphSampler(model, compile=compile) if use_graph else EagerSampler(model)
        self.mode = "graph" if use_graph else "eager"
        self._max_batch = max_batch
        self._generator = torch.Generator(device=self.device)
        if seed is not None:
            self._generator.manual_seed(seed)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path | None,
        *,
        preset_name: str | None = None,
        device: str = "cpu",
        dtype: str = "auto",
        tokenizer: str | None = None,
        **kwargs: Any,
    ) -> Pi0Policy:
        """Load weights (openpi / LeRobot / this package's layout) or, with ``path=None``, random weights."""
        from roboos.brain.policies.pi0.checkpoint import load_checkpoint, load_config

        cfg = preset(preset_name) if preset_name else load_config(path)  # type: ignore[arg-type]
        torch_dtype = _dtype(dtype, device)
        with torch.device(device):
            model = Pi0Model(cfg).to(torch_dtype)
        stats = load_checkpoint(model, path) if path is not None else None
        tok = load_prompt_tokenizer(tokenizer if (tokenizer or path) else "bytes", path, cfg.vlm.vocab_size)
        return cls(model, tok, norm_stats=stats, **kwargs)

    # ------------------------------------------------------------------ Policy API
    def metadata(self) -> dict[str, Any]:
        c = self.config
        return {
            "policy": self.name,
            "cameras": list(c.cameras),
            "required_cameras": list(self.required),
            "image_size": c.vision.image_size,
            "state_dim": c.state_dim,
            "action_dim": self.action_dim,
            "action_horizon": c.chunk_size,
            "num_steps": c.num_steps,
            "max_token_len": c.max_token_len,
            "device": str(self.device),
            "dtype": str(self.model.dtype).replace("torch.", ""),
            "mode": self.mode,
            "quant": self.quant,
            "attention": self.model.attention,
            "has_norm_stats": self.norm_stats.actions is not None,
        }

    @property
    def max_batch_size(self) -> int:
        return self._max_batch

    def warmup(self, batch_sizes: tuple[int, ...] = (1,)) -> None:
        """Capture the CUDA graphs (and run torch.compile) now instead of on the first requests."""
        if isinstance(self.sampler, GraphSampler):
            for b in batch_sizes:
                self.sampler.prepare(b)

    def prepare(self, obs: dict[str, Any]) -> Pi0Input:
        c = self.config
        parsed = parse_observation(obs, c.cameras, self.required, c.state_dim)
        tokens, mask = self.tokenizer.encode_prompt(parsed.prompt, c.max_token_len)
        state = self.norm_stats.normalize_state(parsed.state.astype(np.float64)).astype(np.float32)
        padded = np.zeros(c.state_dim, dtype=np.float32)
        padded[: state.shape[0]] = state
        return Pi0Input([parsed.images.get(name) for name in c.cameras], tokens, mask, padded)

    def _image_tensor(self, batch: list[Pi0Input]) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        size = c.vision.image_size
        out = torch.zeros(len(batch), len(c.cameras), 3, size, size, dtype=torch.float32, device=self.device)
        valid = torch.zeros(len(batch), len(c.cameras), dtype=torch.bool)
        for i, item in enumerate(batch):
            for j, img in enumerate(item.images):
                if img is None:
                    continue
                t = (
                    torch.from_numpy(np.array(img, copy=True)).to(self.device).permute(2, 0, 1).float()
                    / 255.0
                )
                out[i, j] = resize_with_pad(t, size)
                valid[i, j] = True
        return out * 2.0 - 1.0, valid.to(self.device)

    @torch.no_grad()
    def infer_batch(self, prepared: list[Pi0Input]) -> list[dict[str, Any]]:
        c = self.config
        images, image_masks = self._image_tensor(prepared)
        tokens = torch.from_numpy(np.stack([p.tokens for p in prepared])).to(self.device)
        token_masks = torch.from_numpy(np.stack([p.token_mask for p in prepared])).to(self.device)
        state = torch.from_numpy(np.stack([p.state for p in prepared])).to(self.device)
        noise = torch.randn(
            len(prepared), c.chunk_size, c.action_dim, device=self.device, generator=self._generator
        )
        actions = self.sampler(images.to(self.model.dtype), image_masks, tokens, token_masks, state, noise)
        raw = actions.float().cpu().numpy()[..., : self.action_dim]
        return [
            {"actions": self.norm_stats.unnormalize_actions(a.astype(np.float64)).astype(np.float32)}
            for a in raw
        ]


def _dtype(name: str, device: str) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {
            "bf16": torch.bfloat16,
            "bfloat16": torch.bfloat16,
            "fp32": torch.float32,
            "float32": torch.float32,
            "fp16": torch.float16,
            "float16": torch.float16,
        }[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r} (bf16, fp16 or fp32)") from None
