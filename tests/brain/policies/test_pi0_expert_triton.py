"""The fused Triton expert kernels of π0 (``attention="fused"``) under the Triton interpreter: norm+qkv+rotary
(poisoned buffers, prefix rows untouched), norm+gate_up+GELU·mul, GEMM+residual with and without split-K,
the pre-normed variants (rms_prep, residual kernels writing the next norm's inputs, q/k/v and gate/up from
bf16 ``h·(1 + w)`` + row sums), and the tiny model end to end against the PyTorch layers (both paths)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("triton")


@pytest.fixture(scope="module")
def results():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    code = "import sys; sys.path.insert(0, sys.argv[1]); import pi0_expert_interp as m; m.main()"
    proc = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], env=env, capture_output=True, check=False,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # Triton interpreter, ~20 s
def test_qkv_rope_matches_float64(results):
    case = results["kernel"]["qkv"]
    assert case["finite"] and case["prefix_untouched"]
    assert max(case["q"], case["k"], case["v"]) < 2e-3  # fp16 operands and outputs


@pytest.mark.slow  # Triton interpreter, ~20 s
def test_gate_up_gelu_and_residual(results):
    k = results["kernel"]
    assert k["gate_up"]["finite"] and k["gate_up"]["rel_err"] < 2e-3
    assert k["residual_split1"]["rel_err"] < 1e-5 and k["residual_split2"]["rel_err"] < 1e-5


@pytest.mark.slow  # Triton interpreter, ~20 s
def test_prenormed_kernels_match_float64(results):
    k = results["kernel"]
    assert k["prep"]["x"] < 2e-3 and k["prep"]["ss"] < 1e-6
    case = k["qkv_pre"]
    assert case["finite"] and case["prefix_untouched"] and max(case["q"], case["k"], case["v"]) < 2e-3
    assert k["gate_up_pre"]["finite"] and k["gate_up_pre"]["rel_err"] < 2e-3


@pytest.mark.slow  # Triton interpreter, ~20 s
def test_residual_writes_next_norm_inputs(results):
    for split in (1, 2):  # h, bf16 h·(1 + w) and the row-sum partials; split-K counters reset for the next launch
        case = results["kernel"][f"residual_norm_split{split}"]
        assert case["rel_err"] < 2e-3 and case["counters_reset"]


@pytest.mark.slow  # Triton interpreter, ~20 s
def test_tiny_model_fused_matches_pytorch_layers(results):
    model = results["model"]
    assert model["finite"] and model["rel_err"] < 5e-3 and model["rel_err_joint"] < 5e-3
    assert model["rel_err_norm_prologue"] < 5e-3 and model["rel_err_vs_prologue"] < 5e-3
    assert model["rel_err_split_attention"] < 5e-3


def test_rejects_bad_inputs():
    import torch
    from roboos.brain.policies.pi0.expert_triton import ExpertKernelError, Tiles, gemm_residual

    w = torch.zeros(32, 64, dtype=torch.bfloat16)
    with pytest.raises(ExpertKernelError):
        gemm_residual(torch.zeros(4, 64, dtype=torch.bfloat16), w, torch.zeros(4, 32, dtype=torch.bfloat16), Tiles(16, 32))
    with pytest.raises(ExpertKernelError):
        gemm_residual(torch.zeros(4, 48, dtype=torch.bfloat16), w, torch.zeros(4, 32), Tiles(16, 32))
    q = torch.zeros(32, 64, dtype=torch.int8)  # W8A16: int8 weights need one scale per output channel
    x, h = torch.zeros(4, 64, dtype=torch.bfloat16), torch.zeros(4, 32)
    with pytest.raises(ExpertKernelError, match="bf16/fp16"):
        gemm_residual(x, q, h, Tiles(16, 32))
    with pytest.raises(ExpertKernelError, match="per output channel"):
        gemm_residual(x, q, h, Tiles(16, 32), scale=torch.ones(32, 2, dtype=torch.bfloat16))


def test_rejects_bad_norm_outputs(monkeypatch):
    import torch
    from roboos.brain.policies.pi0.expert_triton import ExpertKernelError, NormOut, Tiles, gemm_residual, qkv_rope

    monkeypatch.setenv("TRITON_INTERPRET", "1")  # CPU tensors pass the device check; the shape checks must fire
    w, x, h = torch.zeros(32, 64, dtype=torch.bfloat16), torch.zeros(4, 64, dtype=torch.bfloat16), torch.zeros(4, 32)
    norm = NormOut(torch.zeros(32), torch.zeros(4, 32, dtype=torch.bfloat16), torch.zeros(4, 3))  # P is 2
    with pytest.raises(ExpertKernelError, match="row sums"):
        gemm_residual(x, w, h, Tiles(16, 32), norm=norm)
    norm = NormOut(norm.weight, norm.out, torch.zeros(4, 2))
    with pytest.raises(ExpertKernelError, match="counters"):
        gemm_residual(x, w, h, Tiles(16, 32, 2), norm=norm)
    wq = torch.zeros(4 * 16, 64, dtype=torch.bfloat16)  # two query heads + k + v, head dim 16
    q, kb = torch.zeros(4, 32, dtype=torch.bfloat16), torch.zeros(1, 1, 4, 16, dtype=torch.bfloat16)
    cs = torch.zeros(4, 16)
    with pytest.raises(ExpertKernelError, match="activations"):  # the fp32 stream where bf16 h·(1 + w) belongs
        qkv_rope(torch.zeros(4, 64), torch.zeros(4, 1), wq, cs, cs, q, kb, kb.clone(), 4, 0, 16, 1e-6, Tiles(8, 32))
    with pytest.raises(ExpertKernelError, match="row sums"):
        qkv_rope(x, torch.zeros(4, 1, dtype=torch.bfloat16), wq, cs, cs, q, kb, kb.clone(), 4, 0, 16, 1e-6, Tiles(8, 32))


def test_programmatic_dependent_launch_only_on_a_hopper_gpu(monkeypatch):
    import torch
    from roboos.brain.policies.pi0 import expert_triton

    cpu = torch.zeros(1)
    assert expert_triton._pdl(cpu) == {"PDL": False}  # no launch_pdl argument off the GPU (or interpreted)
    monkeypatch.setattr(expert_triton, "PDL", False)
    assert expert_triton._pdl(cpu) == {"PDL": False}


@pytest.mark.slow  # Triton interpreter, ~20 s
def test_w8a16_expert_on_the_fused_kernels(results):
    """int8 weights with per-channel scales run through the same fused kernels (scales in the epilogues)."""
    model = results["model"]
    assert model["w8a16_layers"] > 0 and model["rel_err_w8a16"] < 5e-3
    assert "pre-normed" in model["w8a16_prologue_refused"]



def test_fused_path_supports_bf16_and_per_channel_w8a16():
    """A GPU policy picks the fused expert for bf16 and per-channel W8A16 weights, the math path otherwise."""
    import torch
    from pi0_attention_interp import tiny_model_and_inputs
    from roboos.brain.policies.pi0 import fused_expert
    from roboos.brain.quant.quantize import quantize

    skip = ("re:.*vision.*", "re:vlm\\..*", "projector", "lm_head")  # the expert only
    assert fused_expert.supports(tiny_model_and_inputs(torch.float16)[0])  # 16-bit weights (fused on the way)
    cases = {}
    for name, fuse_first, group in (("per_channel", True, 0), ("group_wise", True, 16), ("unfused", False, 0)):
        model, _ = tiny_model_and_inputs(torch.float16)
        if fuse_first:
            model.fuse()
        quantize(model, group_size=group, skip=skip)
        cases[name] = fused_expert.supports(model)
    assert cases == {"per_channel": True, "group_wise": False, "unfused": False}
