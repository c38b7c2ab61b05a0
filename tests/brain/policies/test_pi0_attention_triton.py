"""The fused Triton attention of π0 (``attention="triton"``) under the Triton interpreter: ragged query and
key lengths, two KV heads, a bias broadcast over the batch, masked keys, and the tiny model end to end."""

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
    code = "import sys; sys.path.insert(0, sys.argv[1]); import pi0_attention_interp as m; m.main()"
    proc = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # Triton interpreter, ~17 s
@pytest.mark.parametrize("name", ["ragged_bf16", "two_kv_heads_fp16", "bias_broadcast", "split2_ragged_bf16",
                                  "split3_two_kv_heads_fp16", "split3_masked_slice"])
def test_kernel_matches_float64(results, name):
    case = results["kernel"][name]
    assert case["finite"] and case["shape_ok"]
    assert case["repeat_equal"] and case["counters_clean"]  # key slices merged, counters reset for the next call
    assert case["rel_err"] < 1e-2  # bf16/fp16 operands, fp32 softmax and accumulation


@pytest.mark.slow  # Triton interpreter, ~17 s
def test_tiny_model_triton_attention_matches_math(results):
    model = results["model"]
    assert model["finite"]
    assert model["rel_err"] < 2e-2 and model["rel_err_joint"] < 2e-2  # bf16 model, rounding only


def test_rejects_bad_inputs():
    import torch

    from roboos.brain.policies.pi0.attention_triton import AttentionLaunchError, fused_attention

    q = torch.zeros(1, 1, 4, 16, dtype=torch.bfloat16)
    k = torch.zeros(1, 1, 5, 16, dtype=torch.bfloat16)
    with pytest.raises(AttentionLaunchError, match="bias"):
        fused_attention(q, k, k, torch.zeros(1, 1, 4, 6, dtype=torch.bfloat16))
    with pytest.raises(AttentionLaunchError, match="dtypes"):
        fused_attention(q.float(), k.float(), k.float(), torch.zeros(1, 1, 4, 5))
    with pytest.raises(AttentionLaunchError, match="splits"):
        fused_attention(q, k, k, torch.zeros(1, 1, 4, 5, dtype=torch.bfloat16), splits=0)
    with pytest.raises(AttentionLaunchError, match="head dim"):
        fused_attention(q[..., :12], k[..., :12], k[..., :12], torch.zeros(1, 1, 4, 5, dtype=torch.bfloat16))
