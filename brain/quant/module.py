"""``W8A16Linear``: a drop-in replacement for ``nn.Linear`` holding int8 weights and scales.

Buffers follow the compressed-tensors ``int-quantized`` names: ``weight`` (int8 ``[out, in]``) and
``weight_scale`` (``[out, 1]`` per channel or ``[out, in // group_size]``); ``bias`` stays in the model dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from roboos.brain.quant.ops import w8a16_matmul
from roboos.brain.quant.reference import check_group_size, dequantize_weight, quantize_weight


class W8A16Linear(nn.Module):
    """``y = x @ (weight * weight_scale).T + bias`` with int8 ``weight`` (see :func:`w8a16_matmul`)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, group_size: int = 0,
                 dtype: torch.dtype = torch.bfloat16, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.group_size = check_group_size(self.in_features, group_size)
        groups = self.in_features // self.group_size if self.group_size else 1
        self.register_buffer("weight", torch.zeros((out_features, in_features), dtype=torch.int8, device=device))
        self.register_buffer("weight_scale", torch.ones((out_features, groups), dtype=dtype, device=device))
        if bias:
            self.register_buffer("bias", torch.zeros(out_features, dtype=dtype, device=device))
        else:
            self.bias = None
        # Reference modes: None (kernels), "model" (dequantize to the activation dtype + F.linear: the 16-bit
        # model on the same weights), "fp32" (dequantize and multiply in float32: the kernels' exact math).
        self.reference: str | None = None

    @classmethod
    def from_linear(cls, linear: nn.Linear, group_size: int = 0) -> W8A16Linear:
        """Quantize ``linear`` (round to nearest, symmetric); the scale keeps the weight's dtype."""
        w = linear.weight
        module = cls(linear.in_features, linear.out_features, linear.bias is not None, group_size, w.dtype,
                     w.device)
        q, s = quantize_weight(w, group_size)
        module.weight.copy_(q)
        module.weight_scale.copy_(s)
        if linear.bias is not None:
            module.bias.copy_(linear.bias.detach())
        return module

    def dequantized(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        return dequantize_weight(self.weight, self.weight_scale, dtype or self.weight_scale.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reference == "fp32":
            bias = None if self.bias is None else self.bias.float()
            return nn.functional.linear(x.float(), self.dequantized(torch.float32), bias).to(x.dtype)
        if self.reference:
            return nn.functional.linear(x, self.dequantized(x.dtype), self.bias)
        return w8a16_matmul(x, self.weight, self.weight_scale, self.bias, self.group_size)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, group_size={self.group_size}")

    @staticmethod
    def fuse_group(modules: list[nn.Module]) -> FusedW8A16 | None:
        """One W8A16 matmul standing in for several that share an input (q/k/v, gate/up).

        The originals' buffers are re-pointed into the fused ones (no extra copy is kept). Returns ``None``
        when the modules cannot be fused (mixed group sizes, dtypes, bias or not).
        """
        if not modules or not all(isinstance(m, W8A16Linear) for m in modules):
            return None
        first = modules[0]
        if len({(m.in_features, m.group_size, m.weight_scale.dtype, m.weight.device, m.bias is None)
                for m in modules}) != 1:
            return None
        weight = torch.cat([m.weight for m in modules], dim=0)
        scale = torch.cat([m.weight_scale for m in modules], dim=0)
        bias = None if first.bias is None else torch.cat([m.bias for m in modules], dim=0)
        splits = [m.out_features for m in modules]
        offset = 0
        for m, rows in zip(modules, splits):
            m.weight = weight[offset:offset + rows]
            m.weight_scale = scale[offset:offset + rows]
            if bias is not None:
                m.bias = bias[offset:offset + rows]
            offset += rows
        return FusedW8A16(weight, scale, bias, splits, first.group_size)


@dataclass
class FusedW8A16:
    """Several W8A16 projections as one matmul; ``__call__`` returns the per-projection outputs."""

    weight: torch.Tensor
    weight_scale: torch.Tensor
    bias: torch.Tensor | None
    splits: list[int]
    group_size: int

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = w8a16_matmul(x, self.weight, self.weight_scale, self.bias, self.group_size)
        return list(out.split(self.splits, dim=-1))
