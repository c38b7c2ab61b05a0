"""Reference W8A16 semantics in plain torch: round-to-nearest symmetric int8 quantization with per-output-
channel or group-wise scales, dequantization, and the reference matmul every kernel is checked against.

Layout (the compressed-tensors / llm-compressor convention):

* ``qweight``: int8 ``[N, K]`` (out_features x in_features), values in ``[-127, 127]``.
* ``scale``: ``[N, 1]`` per channel, or ``[N, K // group_size]`` per group; dtype of the model (bf16/fp16)
  or float32. ``w ≈ qweight * scale``.
"""

from __future__ import annotations

import torch

QMAX = 127


class QuantizationError(ValueError):
    """Bad quantization input (shape, dtype, group size)."""


def check_group_size(k: int, group_size: int | None) -> int:
    """Return the group size as an int (0 = per channel); raise if it does not divide ``k``."""
    g = int(group_size or 0)
    if g < 0:
        raise QuantizationError(f"group_size must be >= 0, got {g}")
    if g and k % g:
        raise QuantizationError(f"in_features {k} is not a multiple of group_size {g}")
    return g


def quantize_weight(weight: torch.Tensor, group_size: int | None = None,
                    scale_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric round-to-nearest int8 quantization of ``weight [N, K]``.

    The scale is rounded to ``scale_dtype`` (default: the weight's dtype) *before* the weight is divided by
    it, so ``qweight * scale`` is exactly what a loader that reads the saved scale computes.
    """
    if weight.dim() != 2:
        raise QuantizationError(f"weight must be 2-D [N, K], got shape {tuple(weight.shape)}")
    n, k = weight.shape
    g = check_group_size(k, group_size)
    w = weight.detach().float()
    grouped = w.view(n, k // g, g) if g else w.view(n, 1, k)
    amax = grouped.abs().amax(dim=-1)  # [N, groups]
    scale = (amax / QMAX).clamp(min=torch.finfo(torch.float32).tiny)
    scale = scale.to(scale_dtype or weight.dtype)
    q = torch.round(grouped / scale.float()[..., None]).clamp_(-QMAX, QMAX).to(torch.int8)
    return q.view(n, k).contiguous(), scale.contiguous()


def dequantize_weight(qweight: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype = torch.float32
                      ) -> torch.Tensor:
    """``qweight * scale`` (scale broadcast per channel or per group) in ``dtype``."""
    n, k = qweight.shape
    groups = scale.shape[-1]
    if scale.shape[0] != n or k % groups:
        raise QuantizationError(f"scale shape {tuple(scale.shape)} does not fit weight {tuple(qweight.shape)}")
    w = qweight.float().view(n, groups, k // groups) * scale.float().view(n, groups, 1)
    return w.view(n, k).to(dtype)


def w8a16_matmul_ref(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor,
                     bias: torch.Tensor | None = None) -> torch.Tensor:
    """Reference ``x @ (qweight * scale).T + bias`` in float64 (any leading dims), returned in x's dtype."""
    w = dequantize_weight(qweight, scale, torch.float64)
    out = x.double() @ w.T.to(x.device)
    if bias is not None:
        out = out + bias.double()
    return out.to(x.dtype)


def w8a16_matmul_torch(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor,
                       bias: torch.Tensor | None = None) -> torch.Tensor:
    """Fallback for devices without Triton: dequantize to x's dtype and use ``F.linear``."""
    return torch.nn.functional.linear(x, dequantize_weight(qweight, scale, x.dtype), bias)
