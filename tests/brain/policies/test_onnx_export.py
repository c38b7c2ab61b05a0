"""ONNX export of the π0 action-expert step: onnxruntime parity with PyTorch, per step and per chunk."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_expert_step_onnx_parity(tiny_model, tmp_path):
    from roboos.brain.policies.onnx_export import (
        INPUT_NAMES,
        ExpertStep,
        OnnxExpertStep,
        example_inputs,
        export_expert_step,
    )

    model = copy.deepcopy(tiny_model)
    path = export_expert_step(model, tmp_path / "expert_step.onnx")
    assert path.stat().st_size > 0
    session = OnnxExpertStep(path)
    for seed in (1, 2):  # fresh inputs each time, not the export example
        inputs = example_inputs(model, seed=seed)
        with torch.no_grad():
            ref = ExpertStep(model)(*(inputs[n] for n in INPUT_NAMES)).numpy()
        out = session(inputs)
        assert out.shape == ref.shape and out.dtype == np.float32
        assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 1e-4

    # the whole Euler integration on onnxruntime matches PyTorch's sampler on the same cache
    inputs = example_inputs(model, seed=3)
    cfg = model.config
    noise = np.random.default_rng(0).normal(size=(1, cfg.chunk_size, cfg.action_dim)).astype(np.float32)
    onnx_chunk = session.integrate(inputs, noise, cfg.num_steps)
    from roboos.brain.policies.pi0.model import PrefixCache

    cache = PrefixCache(
        list(inputs["keys"].unbind(0)), list(inputs["values"].unbind(0)), inputs["mask"], inputs["length"]
    )
    x = torch.from_numpy(noise)
    with torch.no_grad():
        for k in range(cfg.num_steps):
            t = torch.full((1,), 1.0 - k / cfg.num_steps)
            x = x - model.denoise_step(cache, x, t) / cfg.num_steps
    np.testing.assert_allclose(onnx_chunk, x.numpy(), atol=1e-4)
