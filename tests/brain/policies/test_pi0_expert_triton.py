"""The fused Triton expert kernels of π0 (``attention="fused"``) under the Triton interpreter: norm+qkv+rotary
(poisoned buffers, prefix rows untouched), norm+gate_up+GELU·mul, GEMM+residual with and without split-K,
and the tiny model end to end against the PyTorch layers."""

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


def test_qkv_rope_matches_float64(results):
    case = results["kernel"]["qkv"]
    assert case["finite"] and case["prefix_untouched"]
    assert max(case["q"], case["k"], case["v"]) < 2e-3  # fp16 operands and outputs


def test_gate_up_gelu_and_residual(results):
    k = results["kernel"]
    assert k["gate_up"]["finite"] and k["gate_up"]["rel_err"] < 2e-3
    assert k["residual_split1"]["rel_err"] < 1e-5 and k["residual_split2"]["rel_err"] < 1e-5


def test_tiny_model_fused_matches_pytorch_layers(results):
    model = results["model"]
    assert model["finite"] and model["rel_err"] < 5e-3 and model["rel_err_joint"] < 5e-3


def test_rejects_bad_inputs():
    import torch
    from roboos.brain.policies.pi0.expert_triton import ExpertKernelError, Tiles, gemm_residual

    w = torch.zeros(32, 64, dtype=torch.bfloat16)
    with pytest.raises(ExpertKernelError):
        gemm_residual(torch.zeros(4, 64, dtype=torch.bfloat16), w, torch.zeros(4, 32, dtype=torch.bfloat16), Tiles(16, 32))
    with pytest.raises(ExpertKernelError):
        gemm_residual(torch.zeros(4, 48, dtype=torch.bfloat16), w, torch.zeros(4, 32), Tiles(16, 32))
