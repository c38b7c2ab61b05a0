"""Token selection that runs entirely on the device (no host sync), so it can live inside a CUDA graph.

Greedy rows (temperature 0) take the argmax. Sampling rows apply temperature, top-k and top-p (nucleus)
and draw with the Gumbel-max trick, one sort of the vocabulary per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    """Per-request sampling settings. ``temperature == 0`` means greedy; ``top_k == 0`` means no top-k."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.temperature <= 10.0):
            raise ValueError(f"temperature must be in [0, 10], got {self.temperature}")
        if not (0.0 < self.top_p <= 1.0):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def select_tokens(logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor, top_k: torch.Tensor,
                  sample: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick one token per row of float32 ``logits [B, V]``; parameters are ``[B]`` device tensors."""
    greedy = logits.argmax(dim=-1)
    if not sample:
        return greedy
    scaled = logits / temperature.clamp_min(1e-5)[:, None]
    sorted_logits, order = scaled.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs  # probability mass strictly before each candidate
    rank = torch.arange(logits.shape[-1], device=logits.device)[None, :]
    keep = (before < top_p[:, None]) & ((top_k[:, None] <= 0) | (rank < top_k[:, None]))
    uniform = torch.rand(sorted_logits.shape, device=logits.device, generator=generator).clamp_(1e-10, 1.0)
    noisy = torch.where(keep, sorted_logits - torch.log(-torch.log(uniform)), float("-inf"))
    drawn = order.gather(-1, noisy.argmax(dim=-1, keepdim=True)).squeeze(-1)
    return torch.where(temperature > 0, drawn, greedy)
