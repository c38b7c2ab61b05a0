"""π0 on a tiny random config: shapes, dtypes, Euler step count, KV-cache equivalence, fusion."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch


def test_chunk_shape_dtype_and_determinism(tiny_model, tiny_inputs, tiny_cfg):
    a = tiny_model.sample_actions(**tiny_inputs)
    assert a.shape == (2, tiny_cfg.chunk_size, tiny_cfg.action_dim) and a.dtype == torch.float32
    assert torch.isfinite(a).all()
    assert torch.equal(a, tiny_model.sample_actions(**tiny_inputs))


def test_flow_matching_runs_num_steps_euler_steps(tiny_model, tiny_inputs, tiny_cfg, monkeypatch):
    calls: list[float] = []
    real = tiny_model.denoise_step
    prefix_calls = []
    real_prefix = tiny_model.prefix_kv

    def counting(cache, x, t):
        calls.append(float(t[0]))
        return real(cache, x, t)

    def counting_prefix(*args):
        prefix_calls.append(1)
        return real_prefix(*args)

    monkeypatch.setattr(tiny_model, "denoise_step", counting)
    monkeypatch.setattr(tiny_model, "prefix_kv", counting_prefix)
    tiny_model.sample_actions(**tiny_inputs)
    n = tiny_cfg.num_steps
    assert len(calls) == n and len(prefix_calls) == 1  # prefix KV once per chunk, reused by every step
    assert calls == pytest.approx([1.0 - k / n for k in range(n)])
    calls.clear()
    tiny_model.sample_actions(**tiny_inputs, num_steps=3)
    assert len(calls) == 3


def test_euler_integration_matches_manual_loop(tiny_model, tiny_inputs, tiny_cfg):
    x = tiny_inputs["noise"].clone()
    prefix, pad = tiny_model.embed_prefix(
        tiny_inputs["images"], tiny_inputs["image_masks"], tiny_inputs["tokens"], tiny_inputs["token_masks"]
    )
    n = tiny_cfg.num_steps
    with torch.no_grad():
        for k in range(n):
            t = torch.full((2,), 1.0 - k / n)
            x = x - tiny_model.joint_step(prefix, pad, tiny_inputs["state"], x, t) / n
    assert torch.allclose(tiny_model.sample_actions(**tiny_inputs), x, atol=1e-5)


def test_kv_cache_reuse_gives_the_same_actions(tiny_model, tiny_inputs):
    cached = tiny_model.sample_actions(**tiny_inputs, use_cache=True)
    uncached = tiny_model.sample_actions(**tiny_inputs, use_cache=False)
    assert torch.allclose(cached, uncached, atol=1e-5, rtol=1e-4)


def test_inputs_matter_and_padding_does_not(tiny_model, tiny_inputs):
    base = tiny_model.sample_actions(**tiny_inputs)
    other = dict(tiny_inputs, images=tiny_inputs["images"] * 0.5)
    assert not torch.allclose(base[0], tiny_model.sample_actions(**other)[0])
    other = dict(tiny_inputs, state=tiny_inputs["state"] + 1.0)
    assert not torch.allclose(base, tiny_model.sample_actions(**other))
    # padded prompt tokens and a masked-out camera must not influence sample 1
    tokens = tiny_inputs["tokens"].clone()
    tokens[1, 3:] = 7
    images = tiny_inputs["images"].clone()
    images[1, 1] = 0.3
    changed = tiny_model.sample_actions(**dict(tiny_inputs, tokens=tokens, images=images))
    assert torch.allclose(base[1], changed[1], atol=1e-5)


def test_fused_projections_are_equivalent(tiny_model, tiny_inputs):
    fused = copy.deepcopy(tiny_model).fuse()
    assert hasattr(fused.vlm.layers[0].self_attn, "qkv_proj")
    assert torch.allclose(
        fused.sample_actions(**tiny_inputs), tiny_model.sample_actions(**tiny_inputs), atol=1e-5
    )


def test_fusing_after_quantizing_is_refused(tiny_model):
    """The fused projections are built from 16-bit weights: fuse, then quantize (the policy's order)."""
    from roboos.brain.quant.quantize import quantize

    model = copy.deepcopy(tiny_model)
    quantize(model, skip=("re:.*vision.*", "re:vlm\\..*", "projector", "lm_head"))
    with pytest.raises(ValueError, match="fuse the model before quantizing"):
        model.fuse()
    model = copy.deepcopy(tiny_model).fuse()
    quantize(model, skip=("re:.*vision.*", "re:vlm\\..*", "projector", "lm_head"))
    model.fuse()  # already fused: nothing to do


def test_bf16_runs(tiny_model, tiny_inputs):
    model = copy.deepcopy(tiny_model).to(torch.bfloat16)
    out = model.sample_actions(**tiny_inputs)
    ref = tiny_model.sample_actions(**tiny_inputs)
    assert out.dtype == torch.float32
    assert float((out - ref).norm() / ref.norm()) < 0.1


def test_config_validation_and_lerobot_config():
    from roboos.brain.policies.pi0.config import GemmaSpec, Pi0Config, preset

    with pytest.raises(ValueError, match="same depth"):
        Pi0Config(expert=GemmaSpec(width=32, depth=3, mlp_dim=64, num_heads=8, num_kv_heads=1, head_dim=256))
    cfg = Pi0Config.from_dict(
        {
            "type": "pi0",
            "chunk_size": 50,
            "max_action_dim": 32,
            "max_state_dim": 32,
            "num_inference_steps": 10,
            "input_features": {
                "observation.images.top": {"type": "VISUAL", "shape": [3, 224, 224]},
                "observation.state": {"type": "STATE", "shape": [14]},
            },
        }
    )
    assert cfg.cameras == ("top",) and cfg.num_steps == 10
    tiny = preset("tiny")
    assert Pi0Config.from_dict(tiny.to_dict()) == tiny
    assert preset("pi0").prefix_len == 3 * 256 + 48
    with pytest.raises(ValueError, match="unknown π0 config keys"):
        Pi0Config.from_dict({"bogus": 1})
    assert np.isclose(preset("pi0").min_period, 4e-3)


def test_math_attention_matches_sdpa(tiny_model, tiny_inputs):
    model = copy.deepcopy(tiny_model)
    ref = model.sample_actions(**tiny_inputs)
    model.attention = "math"
    assert torch.allclose(model.sample_actions(**tiny_inputs), ref, atol=1e-5)
    assert torch.allclose(model.sample_actions(**tiny_inputs, use_cache=False), ref, atol=1e-5)
