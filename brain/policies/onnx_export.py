"""ONNX export of the π0 action-expert step, and an onnxruntime runner for it.

The step is the part of π0 that runs ``num_steps`` times per chunk: embed the noisy actions with the
flow time, run the Gemma-300M expert attending to the cached prefix + state keys/values, project to a
velocity. Exported on its own it lets an edge device (onnxruntime on CPU or an NPU) integrate the flow
locally once the cloud has sent the prefix cache, or run a small distilled expert entirely on board.

Graph inputs: ``keys``/``values`` (L, B, KV, C, D), ``mask`` (B, 1, H·G, C+H) additive float bias,
``length`` (B,) int64, ``x_t`` (B, H, A) float32, ``t`` (B,) float32 → output ``velocity`` (B, H, A) float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from roboos.brain.policies.pi0.model import Pi0Model, PrefixCache
from torch import nn

INPUT_NAMES = ["keys", "values", "mask", "length", "x_t", "t"]


class ExpertStep(nn.Module):
    """:meth:`Pi0Model.denoise_step` with the cache passed as stacked tensors (exportable)."""

    def __init__(self, model: Pi0Model):
        super().__init__()
        self.model = model

    def forward(
        self,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
        length: torch.Tensor,
        x_t: torch.Tensor,
        t: torch.Tensor,
    ) -> torch.Tensor:
        cache = PrefixCache(list(keys.unbind(0)), list(values.unbind(0)), mask, length)
        return self.model.denoise_step(cache, x_t, t)


def stack_cache(cache: PrefixCache) -> dict[str, torch.Tensor]:
    return {
        "keys": torch.stack(cache.keys),
        "values": torch.stack(cache.values),
        "mask": cache.mask,
        "length": cache.length,
    }


@torch.no_grad()
def example_inputs(model: Pi0Model, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """A real prefix cache (random images, prompt and state) plus noise and a time, for export and checks."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    s = cfg.vision.image_size
    images = (torch.rand(batch, len(cfg.cameras), 3, s, s, generator=g) * 2 - 1).to(dev)
    tokens = torch.randint(0, cfg.vlm.vocab_size, (batch, cfg.max_token_len), generator=g).to(dev)
    prefix, pad = model.embed_prefix(
        images,
        torch.ones(batch, len(cfg.cameras), dtype=torch.bool, device=dev),
        tokens,
        torch.ones(batch, cfg.max_token_len, dtype=torch.bool, device=dev),
    )
    cache = model.prefix_kv(prefix, pad, torch.randn(batch, cfg.state_dim, generator=g).to(dev))
    out = stack_cache(cache)
    out["x_t"] = torch.randn(batch, cfg.chunk_size, cfg.action_dim, generator=g).to(dev)
    out["t"] = torch.full((batch,), 0.7, device=dev)
    return out


def export_expert_step(model: Pi0Model, path: str | Path, batch: int = 1, opset: int = 18) -> Path:
    """Write the expert step of ``model`` (float32, CPU) to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    step = ExpertStep(model.float().cpu().eval())
    inputs = example_inputs(step.model, batch)
    args = tuple(inputs[name] for name in INPUT_NAMES)
    with torch.no_grad():
        program = torch.onnx.export(
            step,
            args,
            input_names=INPUT_NAMES,
            output_names=["velocity"],
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
        program.save(str(path))
    return path


class OnnxExpertStep:
    """onnxruntime session of an exported step, with the Euler loop around it."""

    def __init__(self, path: str | Path, providers: list[str] | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])

    def __call__(self, feeds: dict[str, Any]) -> np.ndarray:
        arrays = {
            k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in feeds.items()
            if k in INPUT_NAMES
        }
        return self.session.run(["velocity"], arrays)[0]

    def integrate(self, cache: dict[str, Any], noise: np.ndarray, num_steps: int) -> np.ndarray:
        """Euler-integrate the flow from ``noise`` (t = 1) to an action chunk (t = 0)."""
        x = np.asarray(noise, dtype=np.float32)
        dt = -1.0 / num_steps
        for k in range(num_steps):
            t = np.full((x.shape[0],), 1.0 + k * dt, dtype=np.float32)
            x = x + dt * self(dict(cache, x_t=x, t=t))
        return x
