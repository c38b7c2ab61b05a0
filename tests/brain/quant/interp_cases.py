"""Kernel checks run in a subprocess with ``TRITON_INTERPRET=1`` set before Triton is imported (the test
modules call :func:`main` through ``python -c``). Prints one JSON line with a result per case."""

from __future__ import annotations

import json
import os
import sys
import zlib


def _cases():
    from roboos.brain.quant.configs import KernelConfig as C

    # name, M, N, K, group, dtype, config, bias, strided x
    return [
        ("gemv_ragged_n", 1, 37, 96, 0, "bfloat16", C("gemv", 1, 8, 32, 1, 1, 4, 2), False, False),
        ("gemv_ragged_k_split3_bias", 1, 50, 200, 0, "float16", C("gemv", 1, 16, 32, 3, 1, 4, 2), True, False),
        ("gemv_group64_split2", 3, 33, 256, 64, "bfloat16", C("gemv", 1, 4, 128, 2, 1, 4, 2), False, False),
        ("gemv_bn1_bk_over_k", 1, 9, 70, 0, "bfloat16", C("gemv", 1, 1, 128, 1, 1, 4, 1), False, True),
        ("gemvp_single_k_ragged", 1, 37, 96, 0, "bfloat16", C("gemv_persistent", 1, 4, 128, 1, 2, 4, 2), False, False),
        ("gemvp_even_bias_fp16", 1, 64, 128, 0, "float16", C("gemv_persistent", 1, 8, 128, 1, 1, 4, 3), True, False),
        ("gemvp_k_loop_ragged_strided", 2, 50, 200, 0, "bfloat16", C("gemv_persistent", 1, 8, 64, 1, 1, 4, 2),
         True, True),
        ("gemvp_group64_k_loop", 3, 33, 256, 64, "bfloat16", C("gemv_persistent", 1, 4, 128, 2, 3, 4, 1), False,
         False),
        ("gemvpdl_single_k_ragged", 1, 37, 96, 0, "bfloat16", C("gemv_pdl", 1, 4, 128, 1, 1, 4, 2), True, False),
        ("gemvpdl_k_loop_group32_strided", 2, 33, 256, 32, "float16", C("gemv_pdl", 1, 8, 64, 1, 1, 4, 2), False,
         True),
        ("gemvpdl_even_k_loop", 1, 64, 256, 0, "bfloat16", C("gemv_pdl", 1, 2, 64, 1, 1, 2, 3), False, False),
        ("gemm_ragged_bias", 5, 40, 100, 0, "bfloat16", C("gemm", 16, 16, 32, 1, 8, 4, 2), True, False),
        ("gemm_group32_split2", 19, 33, 128, 32, "float16", C("gemm", 16, 32, 32, 2, 2, 4, 2), False, False),
        ("gemm_strided_x", 17, 70, 96, 0, "bfloat16", C("gemm", 32, 32, 32, 1, 4, 4, 2), False, True),
        ("gemm_split3_ragged", 2, 24, 160, 0, "bfloat16", C("gemm", 16, 16, 32, 3, 8, 4, 2), True, False),
    ]


def run_case(name, m, n, k, g, dtype_name, cfg, with_bias, strided) -> dict:
    import torch

    from roboos.brain.quant import kernels, ops
    from roboos.brain.quant.pretune import relative_error
    from roboos.brain.quant.reference import quantize_weight, w8a16_matmul_ref

    dtype = getattr(torch, dtype_name)
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    q, s = quantize_weight(torch.randn(n, k, generator=gen), g, dtype)
    bias = torch.randn(n, generator=gen).to(dtype) if with_bias else None
    base = torch.randn(m, 2 * k if strided else k, generator=gen).to(dtype)
    x = base[:, ::2] if strided else base
    ref = w8a16_matmul_ref(x.double(), q, s, bias)
    out = torch.full((m, n), float("nan"), dtype=dtype)  # poisoned: every element must be written
    kernels.w8a16_triton(x, q, s, bias, g, cfg, out=out)
    auto = ops.w8a16_matmul(x.reshape(m, k), q, s, bias, g)
    return {"name": name, "rel_err": relative_error(out, ref), "rel_err_dispatch": relative_error(auto, ref),
            "all_written": bool(torch.isfinite(out).all())}


def nan_case() -> dict:
    """A NaN in the scales must surface as a NaN output (and an infinite error), never pass silently."""
    import torch

    from roboos.brain.quant import kernels
    from roboos.brain.quant.configs import KernelConfig
    from roboos.brain.quant.pretune import relative_error
    from roboos.brain.quant.reference import quantize_weight, w8a16_matmul_ref

    q, s = quantize_weight(torch.randn(16, 64), 0, torch.bfloat16)
    x = torch.randn(1, 64).to(torch.bfloat16)
    ref = w8a16_matmul_ref(x.double(), q, s)
    s[3, 0] = float("nan")
    out = kernels.w8a16_triton(x, q, s, None, 0, KernelConfig("gemv", 1, 8, 32, 1, 1, 4, 2))
    return {"name": "nan_scale", "rel_err": relative_error(out, ref), "nan_rows": int(torch.isnan(out).sum())}


def model_case() -> dict:
    """Tiny Qwen2.5-VL: quantize, then logits through the kernels vs the fp32 reference on the same weights;
    q/k/v and gate/up fused as the fast engine does."""
    import torch

    from roboos.brain.quant.archs import build_model
    from roboos.brain.quant.module import W8A16Linear
    from roboos.brain.quant.pretune import relative_error
    from roboos.brain.quant.quantize import quantize, set_reference_mode

    model = quantize(build_model("tiny", torch.bfloat16))
    ids = torch.randint(0, 320, (1, 6), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        kern = model(input_ids=ids).logits.float()
        set_reference_mode(model, "fp32")
        ref32 = model(input_ids=ids).logits.float()
        set_reference_mode(model, None)
        attn = model.model.language_model.layers[0].self_attn
        x = torch.randn(1, 64).to(torch.bfloat16)
        separate = [attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)]
        fused = W8A16Linear.fuse_group([attn.q_proj, attn.k_proj, attn.v_proj])(x)
        after = [attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)]
    return {"name": "tiny_model", "rel_err": relative_error(kern, ref32),
            "fused_equal": all(torch.equal(a, b) for a, b in zip(separate, fused)),
            "views_equal": all(torch.equal(a, b) for a, b in zip(separate, after))}


def main() -> None:
    assert os.environ.get("TRITON_INTERPRET") == "1", "run with TRITON_INTERPRET=1"
    assert "triton" not in sys.modules, "Triton must be imported after TRITON_INTERPRET is set"
    results = [run_case(*case) for case in _cases()]
    results += [nan_case(), model_case()]
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    main()
