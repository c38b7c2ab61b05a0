"""Samplers that run :meth:`Pi0Model.sample_actions`: eager, and CUDA-graphed with static shapes.

:class:`GraphSampler` captures the whole chunk — vision tower, prefix pass that fills the KV cache once,
and all Euler steps of the expert — into one CUDA graph per batch-size bucket, with static input
buffers. A call copies inputs into the buffers, replays the graph and returns a copy of the output, so
there is no Python or kernel-launch overhead per layer and step. ``compile=True`` additionally runs the
model's passes through ``torch.compile`` (fused norms, rotary and activations) before capture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from roboos.brain.policies.pi0.model import Pi0Model

BATCH_BUCKETS = (1, 2, 4, 8, 16)


class EagerSampler:
    """Plain PyTorch: one launch per op, the way a straightforward implementation runs."""

    def __init__(self, model: Pi0Model):
        self.model = model

    def __call__(
        self,
        images: torch.Tensor,
        image_masks: torch.Tensor,
        tokens: torch.Tensor,
        token_masks: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        return self.model.sample_actions(images, image_masks, tokens, token_masks, state, noise=noise)


def compile_model(model: Pi0Model, autotune: bool = False) -> None:
    """Route the model's heavy passes through ``torch.compile`` (static shapes; no cudagraphs inside).

    ``autotune`` compiles the denoising step — small-M GEMMs run ``num_steps`` times per chunk — with
    ``max-autotune-no-cudagraphs`` (Triton GEMM templates with fused epilogues; slower to compile).
    """
    if getattr(model, "_roboos_compiled", False):
        return
    opts = {"dynamic": False}
    model.embed_images = torch.compile(model.embed_images, **opts)  # type: ignore[method-assign]
    model.prefix_kv = torch.compile(model.prefix_kv, **opts)  # type: ignore[method-assign]
    step_opts = dict(opts, mode="max-autotune-no-cudagraphs") if autotune else opts
    model.denoise_step = torch.compile(model.denoise_step, **step_opts)  # type: ignore[method-assign]
    model._roboos_compiled = True


def uncompile_model(model: Pi0Model) -> None:
    """Undo :func:`compile_model` (the instance attributes shadowing the methods are removed)."""
    for name in ("embed_images", "prefix_kv", "denoise_step", "_fused_fns"):
        model.__dict__.pop(name, None)
    model._roboos_compiled = False


class _Graph:
    def __init__(self, model: Pi0Model, batch: int, warmup: int):
        cfg = model.config
        dev = next(model.parameters()).device
        s = cfg.vision.image_size
        self.inputs = {
            "images": torch.zeros(batch, len(cfg.cameras), 3, s, s, dtype=model.dtype, device=dev),
            "image_masks": torch.ones(batch, len(cfg.cameras), dtype=torch.bool, device=dev),
            "tokens": torch.zeros(batch, cfg.max_token_len, dtype=torch.int64, device=dev),
            "token_masks": torch.ones(batch, cfg.max_token_len, dtype=torch.bool, device=dev),
            "state": torch.zeros(batch, cfg.state_dim, dtype=torch.float32, device=dev),
            "noise": torch.randn(batch, cfg.chunk_size, cfg.action_dim, dtype=torch.float32, device=dev),
        }
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):
            for _ in range(warmup):
                model.sample_actions(**self.inputs)
        torch.cuda.current_stream(dev).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.output = model.sample_actions(**self.inputs)

    def run(self, args: dict[str, torch.Tensor]) -> torch.Tensor:
        n = args["state"].shape[0]
        for name, buf in self.inputs.items():
            buf[:n].copy_(args[name])
            if n < buf.shape[0]:  # fill unused rows with a real row so they stay finite
                buf[n:].copy_(args[name][:1].expand_as(buf[n:]))
        self.graph.replay()
        return self.output[:n].clone()


class GraphSampler:
    """CUDA-graph sampler; graphs are captured lazily for the smallest bucket that holds the batch."""

    def __init__(
        self,
        model: Pi0Model,
        buckets: Sequence[int] = BATCH_BUCKETS,
        warmup: int = 2,
        compile: bool | str = False,
    ):
        if not torch.cuda.is_available() or next(model.parameters()).device.type != "cuda":
            raise RuntimeError("GraphSampler needs the model on a CUDA device")
        if compile:  # True / "default", or "autotune"
            compile_model(model, autotune=compile == "autotune")
        self.model, self.buckets, self.warmup = model, tuple(sorted(buckets)), warmup
        self._graphs: dict[int, _Graph] = {}

    def bucket(self, n: int) -> int:
        for b in self.buckets:
            if n <= b:
                return b
        raise ValueError(f"batch of {n} exceeds the largest bucket {self.buckets[-1]}")

    def prepare(self, batch: int) -> None:
        """Capture the graph for ``batch`` now (first calls are otherwise slow)."""
        b = self.bucket(batch)
        if b not in self._graphs:
            self._graphs[b] = _Graph(self.model, b, self.warmup)

    def __call__(
        self,
        images: torch.Tensor,
        image_masks: torch.Tensor,
        tokens: torch.Tensor,
        token_masks: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        n = state.shape[0]
        self.prepare(n)
        args = {
            "images": images,
            "image_masks": image_masks,
            "tokens": tokens,
            "token_masks": token_masks,
            "state": state,
            "noise": noise,
        }
        return self._graphs[self.bucket(n)].run(args)
