"""Configuration of the π0 policy: vision tower, PaliGemma language model, action expert, flow matching.

Plain dataclasses (no pydantic, no torch) so the GPU benchmark imports with torch and transformers alone.
The ``pi0`` preset is the published π0 geometry (SigLIP So400m/14 at 224 px, Gemma 2B, Gemma 300M expert,
50×32 chunks, 10 Euler steps); ``tiny`` is a 2-layer toy of the same structure for CPU tests.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CAMERAS = ("base_0_rgb", "left_wrist_0_rgb", "right_wrist_0_rgb")


@dataclass(frozen=True)
class GemmaSpec:
    """One Gemma stack (the PaliGemma language model or the action expert)."""

    width: int
    depth: int
    mlp_dim: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int = 257152


@dataclass(frozen=True)
class VisionSpec:
    """The SigLIP vision tower (PaliGemma's So400m/14 by default)."""

    hidden_size: int = 1152
    intermediate_size: int = 4304
    num_layers: int = 27
    num_heads: int = 16
    patch_size: int = 14
    image_size: int = 224

    @property
    def tokens_per_image(self) -> int:
        return (self.image_size // self.patch_size) ** 2


GEMMA_2B = GemmaSpec(width=2048, depth=18, mlp_dim=16384, num_heads=8, num_kv_heads=1, head_dim=256)
GEMMA_300M = GemmaSpec(width=1024, depth=18, mlp_dim=4096, num_heads=8, num_kv_heads=1, head_dim=256)


@dataclass(frozen=True)
class Pi0Config:
    """Everything that fixes the shapes of a π0 model and its sampler."""

    vision: VisionSpec = field(default_factory=VisionSpec)
    vlm: GemmaSpec = GEMMA_2B
    expert: GemmaSpec = GEMMA_300M
    chunk_size: int = 50  # action horizon H
    action_dim: int = 32  # padded action width
    state_dim: int = 32  # padded state width
    num_steps: int = 10  # Euler steps of flow matching
    max_token_len: int = 48  # tokenized prompt length (padded)
    cameras: tuple[str, ...] = DEFAULT_CAMERAS
    min_period: float = 4e-3  # sinusoidal time embedding
    max_period: float = 4.0
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        if self.vlm.depth != self.expert.depth:
            raise ValueError(
                f"the VLM ({self.vlm.depth} layers) and the expert ({self.expert.depth}) must have "
                "the same depth: they share attention layer by layer"
            )
        if (self.vlm.num_heads, self.vlm.num_kv_heads, self.vlm.head_dim) != (
            self.expert.num_heads,
            self.expert.num_kv_heads,
            self.expert.head_dim,
        ):
            raise ValueError("the VLM and the expert must have the same attention heads and head_dim")
        if self.vlm.num_heads % self.vlm.num_kv_heads:
            raise ValueError("num_heads must be a multiple of num_kv_heads")
        if self.vision.image_size % self.vision.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        for name in ("chunk_size", "action_dim", "state_dim", "num_steps", "max_token_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if not self.cameras:
            raise ValueError("at least one camera is needed")

    @property
    def prefix_len(self) -> int:
        return len(self.cameras) * self.vision.tokens_per_image + self.max_token_len

    @property
    def suffix_len(self) -> int:
        return 1 + self.chunk_size  # state token + action tokens

    def with_cameras(self, n: int) -> Pi0Config:
        """The same model with the first ``n`` cameras of the default list (or numbered extras)."""
        names = list(DEFAULT_CAMERAS[:n]) + [f"camera_{i}" for i in range(len(DEFAULT_CAMERAS), n)]
        return dataclasses.replace(self, cameras=tuple(names))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pi0Config:
        """Build from :meth:`to_dict` output, or from a LeRobot ``config.json`` (``type: pi0``)."""
        if data.get("type") == "pi0" or "max_action_dim" in data:
            return cls._from_lerobot(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown π0 config keys: {unknown}")
        kwargs = dict(data)
        if "vision" in kwargs:
            kwargs["vision"] = VisionSpec(**kwargs["vision"])
        for key in ("vlm", "expert"):
            if key in kwargs:
                kwargs[key] = GemmaSpec(**kwargs[key])
        if "cameras" in kwargs:
            kwargs["cameras"] = tuple(kwargs["cameras"])
        return cls(**kwargs)

    @classmethod
    def _from_lerobot(cls, data: dict[str, Any]) -> Pi0Config:
        variants = {"gemma_2b": GEMMA_2B, "gemma_300m": GEMMA_300M}
        res = data.get("image_resolution") or data.get("resize_imgs_with_padding") or [224, 224]
        cams = [
            k.split(".")[-1]
            for k, v in (data.get("input_features") or {}).items()
            if isinstance(v, dict) and v.get("type") == "VISUAL"
        ]
        return cls(
            vision=VisionSpec(image_size=int(res[0])),
            vlm=variants[data.get("paligemma_variant", "gemma_2b")],
            expert=variants[data.get("action_expert_variant", "gemma_300m")],
            chunk_size=int(data.get("chunk_size", 50)),
            action_dim=int(data.get("max_action_dim", 32)),
            state_dim=int(data.get("max_state_dim", 32)),
            num_steps=int(data.get("num_inference_steps", data.get("num_steps", 10))),
            max_token_len=int(data.get("tokenizer_max_length", 48)),
            cameras=tuple(cams) or DEFAULT_CAMERAS,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Pi0Config:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the π0 config: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the π0 config must be a JSON object")
        return cls.from_dict(data)


def preset(name: str) -> Pi0Config:
    """A named configuration: ``pi0`` (real size, ~3.3B parameters) or ``tiny`` (CPU tests)."""
    if name == "pi0":
        return Pi0Config()
    if name == "tiny":
        return Pi0Config(
            vision=VisionSpec(
                hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, patch_size=8, image_size=32
            ),
            vlm=GemmaSpec(
                width=64, depth=2, mlp_dim=128, num_heads=2, num_kv_heads=1, head_dim=16, vocab_size=300
            ),
            expert=GemmaSpec(
                width=32, depth=2, mlp_dim=64, num_heads=2, num_kv_heads=1, head_dim=16, vocab_size=300
            ),
            chunk_size=6,
            action_dim=8,
            state_dim=8,
            num_steps=4,
            max_token_len=8,
            cameras=("base_0_rgb", "left_wrist_0_rgb"),
        )
    raise ValueError(f"unknown π0 preset {name!r} (choose 'pi0' or 'tiny')")
