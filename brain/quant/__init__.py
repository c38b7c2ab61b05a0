"""W8A16 quantization: int8 weights, 16-bit activations, Triton kernels with an offline-tuned config table.

Submodules (import what you need; nothing heavy is imported here):

* :mod:`.reference`   — quantize / dequantize / reference matmul in plain torch (the semantics).
* :mod:`.kernels`     — Triton kernels: a GEMV path for M == 1, a tiled (optionally split-K) GEMM path.
* :mod:`.configs`     — :class:`KernelConfig`, the PreTune table (``configs/kernels/<gpu>.json``), heuristics.
* :mod:`.ops`         — :func:`w8a16_matmul`: table lookup + dispatch (Triton, FlagGems, or reference).
* :mod:`.module`      — :class:`W8A16Linear`, a drop-in ``nn.Linear`` replacement.
* :mod:`.quantize`    — :func:`quantize(model, skip=...)` (FlagScale recipe: vision tower and lm_head kept).
* :mod:`.checkpoint`  — compressed-tensors save / load (llm-compressor and vLLM compatible).
* :mod:`.flaggems`    — optional FlagGems int8-weight matmul adapter.
* :mod:`.pretune`     — offline kernel tuning that writes the table.
* :mod:`.serve_tune`  — deployment auto-tuning of serving parameters.
* :mod:`.bench`       — the ``roboos bench w8a16`` benchmark (torch / triton / transformers only).
"""

from __future__ import annotations

__all__ = ["quantize", "W8A16Linear", "w8a16_matmul", "save_quantized", "load_quantized"]

# The function shares its name with its submodule: bind it eagerly, so ``from roboos.brain.quant import
# quantize`` gives the function even after ``roboos.brain.quant.quantize`` (the module) was imported.
from roboos.brain.quant.quantize import quantize  # noqa: E402


def __getattr__(name: str):  # lazy re-exports of the rest
    if name == "W8A16Linear":
        from roboos.brain.quant.module import W8A16Linear
        return W8A16Linear
    if name == "w8a16_matmul":
        from roboos.brain.quant.ops import w8a16_matmul
        return w8a16_matmul
    if name in ("save_quantized", "load_quantized"):
        from roboos.brain.quant import checkpoint
        return getattr(checkpoint, name)
    raise AttributeError(name)
