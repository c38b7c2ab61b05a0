"""Reference quantization semantics: round-to-nearest symmetric int8, per channel and per group."""

from __future__ import annotations

import pytest
import torch

from roboos.brain.quant.reference import (QuantizationError, dequantize_weight, quantize_weight,
                                          w8a16_matmul_ref, w8a16_matmul_torch)


@pytest.mark.parametrize("group", [0, 32])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_round_trip_error_is_half_a_step(group, dtype):
    w = torch.randn(24, 96).to(dtype)
    q, s = quantize_weight(w, group)
    assert q.dtype == torch.int8 and q.abs().max() <= 127
    assert s.shape == (24, 96 // group if group else 1) and s.dtype == dtype
    deq = dequantize_weight(q, s)
    step = s.float().repeat_interleave(group or 96, dim=1)
    # half a quantization step, plus the rounding of the scale itself to its dtype
    assert ((deq - w.float()).abs() <= 0.5 * step + 1e-2 * w.float().abs() + 1e-6).all()


def test_extreme_value_maps_to_127_and_zero_rows_are_safe():
    w = torch.zeros(3, 8)
    w[0, 2] = -4.0
    q, s = quantize_weight(w, 0, torch.float32)
    assert q[0, 2] == -127
    assert torch.isfinite(s).all() and (q[1:] == 0).all()


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(QuantizationError):
        quantize_weight(torch.randn(4, 100), 64)
    with pytest.raises(QuantizationError):
        quantize_weight(torch.randn(4), 0)
    q, s = quantize_weight(torch.randn(4, 64), 32)
    with pytest.raises(QuantizationError):
        dequantize_weight(q, s[:2])


def test_torch_fallback_matches_float64_reference():
    q, s = quantize_weight(torch.randn(40, 64), 0, torch.float32)
    x = torch.randn(2, 3, 64)
    bias = torch.randn(40)
    out = w8a16_matmul_torch(x, q, s, bias)
    ref = w8a16_matmul_ref(x.double(), q, s, bias)
    assert out.shape == (2, 3, 40)
    assert float((out.double() - ref).norm() / ref.norm()) < 1e-5
