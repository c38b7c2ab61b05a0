"""Optional FlagGems int8-weight matmul, for side-by-side benchmarks and per-shape selection.

FlagGems 5.0 has no dense W8A16 linear; its int8-weight (``use_int8_w8a16``) Triton kernel is the fused-MoE
GEMM. With one expert that holds every token it is a dense ``x @ (w * scale).T``, which is what
:func:`w8a16_linear` runs. FlagGems needs a GPU at import time (it raises on CPU-only machines) and a
compatible Triton; when it is missing or fails to import, :func:`available` is False and :func:`why` says why.
"""

from __future__ import annotations

from functools import lru_cache

import torch

_ERROR: str | None = None


@lru_cache(maxsize=1)
def _module():
    global _ERROR
    try:
        from flag_gems.fused import fused_moe  # noqa: F401  (raises without a device)
        return fused_moe
    except Exception as exc:  # ImportError, RuntimeError("No device ..."), Triton API mismatches
        _ERROR = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return None


def available() -> bool:
    """Whether FlagGems' int8-weight kernel can run here."""
    return _module() is not None


def why() -> str | None:
    """Why FlagGems is unavailable (``None`` when it is available)."""
    _module()
    return _ERROR


def version() -> str | None:
    try:
        from importlib.metadata import version as _v
        return _v("flag-gems")
    except Exception:
        return None


def _config(m: int, n: int, k: int) -> dict:
    mod = _module()
    try:
        cfg = dict(mod.get_default_config(m, 1, n, k, 1, "int8_w8a16", None))
    except Exception:
        cfg = {"BLOCK_SIZE_M": 16 if m <= 16 else 64, "BLOCK_SIZE_N": 64, "BLOCK_SIZE_K": 128,
               "GROUP_SIZE_M": 1, "num_warps": 4, "num_stages": 3}
    return cfg


def w8a16_linear(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor,
                 bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x [M, K] @ (qweight * scale).T (+ bias)`` through FlagGems' int8_w8a16 kernel (per-channel scales)."""
    mod = _module()
    if mod is None:
        raise RuntimeError(f"FlagGems unavailable: {_ERROR}")
    import triton.language as tl

    m, k = x.shape
    n = qweight.shape[0]
    cfg = _config(m, n, k)
    block_m = cfg["BLOCK_SIZE_M"]
    sorted_ids, expert_ids, post_padded = _routing(m, block_m, x.device)
    out = torch.empty((m, 1, n), device=x.device, dtype=x.dtype)
    compute = tl.bfloat16 if x.dtype == torch.bfloat16 else tl.float16
    mod.invoke_fused_moe_triton_kernel(
        x.contiguous(), qweight.unsqueeze(0), out, None, scale.reshape(1, n), None, sorted_ids, expert_ids,
        post_padded, False, 1, cfg, compute, use_int8_w8a16=True)
    out = out.view(m, n)
    if bias is not None:
        out += bias
    return out


_ROUTING: dict[tuple[int, int, torch.device], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _routing(m: int, block_m: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Routing tensors of "one expert holds every token", cached so a CUDA graph can capture the call."""
    key = (m, block_m, device)
    if key not in _ROUTING:
        padded = triton_cdiv(m, block_m) * block_m
        _ROUTING[key] = (torch.arange(padded, device=device, dtype=torch.int32),  # ids >= m are padding
                         torch.zeros(padded // block_m, device=device, dtype=torch.int32),
                         torch.tensor([padded], device=device, dtype=torch.int32))
    return _ROUTING[key]


def triton_cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b
