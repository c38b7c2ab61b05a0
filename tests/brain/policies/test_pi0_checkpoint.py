"""Checkpoint key mapping (openpi / LeRobot spellings), errors, normalisation stats, save → load → infer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from roboos.brain.policies.normalize import NormStats, Stats, load_norm_stats
from roboos.brain.policies.pi0.checkpoint import (
    CheckpointKeyError,
    load_state_into,
    map_key,
    save_checkpoint,
)
from roboos.brain.policies.pi0.model import Pi0Model
from safetensors.torch import save_file


def _openpi_name(key: str) -> str:
    root = "paligemma_with_expert."
    for ours, theirs in (
        ("vision.", "paligemma.model.vision_tower."),
        ("projector.", "paligemma.model.multi_modal_projector.linear."),
        ("vlm.", "paligemma.model.language_model."),
        ("expert.", "gemma_expert.model."),
    ):
        if key.startswith(ours):
            return root + theirs + key[len(ours) :]
    return key


def _legacy_lerobot_name(key: str) -> str:
    name = _openpi_name(key)
    name = name.replace("paligemma.model.language_model.", "paligemma.language_model.model.")
    name = name.replace("paligemma.model.vision_tower.", "paligemma.vision_tower.")
    name = name.replace("paligemma.model.multi_modal_projector.", "paligemma.multi_modal_projector.")
    return "model." + name


@pytest.mark.parametrize("spelling", ["openpi", "lerobot", "lerobot_legacy", "native"])
def test_key_mapping_loads_every_spelling(tiny_model, tiny_cfg, tiny_inputs, spelling):
    state = tiny_model.state_dict()
    rename = {
        "openpi": _openpi_name,
        "lerobot": lambda k: "model." + _openpi_name(k),
        "lerobot_legacy": _legacy_lerobot_name,
        "native": lambda k: k,
    }[spelling]
    synthetic = {rename(k): v.clone() for k, v in state.items()}
    # extras that published checkpoints carry and the loader deliberately ignores
    lm_head = {
        "openpi": "paligemma_with_expert.paligemma.lm_head.weight",
        "lerobot": "model.paligemma_with_expert.paligemma.lm_head.weight",
        "lerobot_legacy": "model.paligemma_with_expert.paligemma.language_model.lm_head.weight",
        "native": "paligemma_with_expert.paligemma.lm_head.weight",
    }[spelling]
    synthetic[lm_head] = torch.zeros(1)
    synthetic["model.paligemma_with_expert.gemma_expert.lm_head.weight"] = torch.zeros(1)
    synthetic["normalize_inputs.buffer_observation_state.mean"] = torch.zeros(3)
    fresh = Pi0Model(tiny_cfg).eval()
    load_state_into(fresh, synthetic)
    assert torch.equal(fresh.sample_actions(**tiny_inputs), tiny_model.sample_actions(**tiny_inputs))


def test_mapping_examples():
    assert (
        map_key("model.paligemma_with_expert.paligemma.model.language_model.layers.3.mlp.up_proj.weight")
        == "vlm.layers.3.mlp.up_proj.weight"
    )
    assert map_key("paligemma_with_expert.gemma_expert.model.norm.weight") == "expert.norm.weight"
    assert (
        map_key("model.paligemma_with_expert.paligemma.vision_tower.vision_model.post_layernorm.bias")
        == "vision.vision_model.post_layernorm.bias"
    )
    assert map_key("paligemma_with_expert.paligemma.lm_head.weight") is None
    assert map_key("model.action_out_proj.weight") == "action_out_proj.weight"


def test_missing_unexpected_and_mismatched_keys_are_listed(tiny_model, tiny_cfg):
    state = {_openpi_name(k): v for k, v in tiny_model.state_dict().items()}
    state.pop("state_proj.weight")
    state.pop("paligemma_with_expert.gemma_expert.model.layers.1.mlp.down_proj.weight")
    state["paligemma_with_expert.something_new.weight"] = torch.zeros(2)
    state["action_in_proj.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointKeyError) as info:
        load_state_into(Pi0Model(tiny_cfg), state, source="ckpt.safetensors")
    err = info.value
    assert err.missing == ["expert.layers.1.mlp.down_proj.weight", "state_proj.weight"]
    assert err.unexpected == ["paligemma_with_expert.something_new.weight"]
    assert len(err.mismatched) == 1 and "action_in_proj.weight" in err.mismatched[0]
    text = str(err)
    assert "ckpt.safetensors" in text and "missing keys (2)" in text and "unexpected keys (1)" in text


def test_norm_stats_sources(tmp_path):
    stats = {
        "norm_stats": {
            "state": {"mean": [1.0, 2.0], "std": [2.0, 4.0]},
            "actions": {"mean": [0.5], "std": [2.0], "q01": [-1.0], "q99": [1.0]},
        }
    }
    (tmp_path / "assets" / "robot").mkdir(parents=True)
    (tmp_path / "assets" / "robot" / "norm_stats.json").write_text(json.dumps(stats))
    ns = load_norm_stats(tmp_path)
    assert ns is not None and ns.action_dim == 1
    np.testing.assert_allclose(ns.normalize_state(np.array([3.0, 6.0])), [1.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(ns.unnormalize_actions(np.array([[1.0, 1.0]])), [[2.5, 1.0]], atol=1e-5)

    lerobot = tmp_path / "lerobot"
    lerobot.mkdir()
    from safetensors.numpy import save_file as save_np

    save_np(
        {
            "observation.state.mean": np.array([1.0], np.float32),
            "observation.state.std": np.array([2.0], np.float32),
        },
        str(lerobot / "policy_preprocessor_step_3_normalizer_processor.safetensors"),
    )
    save_np(
        {"action.mean": np.array([3.0], np.float32), "action.std": np.array([1.0], np.float32)},
        str(lerobot / "policy_postprocessor_step_0_unnormalizer_processor.safetensors"),
    )
    ns = load_norm_stats(lerobot)
    assert ns.state.mean[0] == 1.0 and ns.actions.mean[0] == 3.0

    legacy = {
        "unnormalize_outputs.buffer_action.mean": torch.tensor([4.0]),
        "unnormalize_outputs.buffer_action.std": torch.tensor([1.0]),
    }
    ns = load_norm_stats(tmp_path / "nothing_here", legacy)
    assert ns.actions.mean[0] == 4.0 and ns.state is None
    assert load_norm_stats(tmp_path / "nothing_here") is None

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "norm_stats.json").write_text(json.dumps({"norm_stats": {"state": {"mean": [1]}}}))
    with pytest.raises(ValueError, match="lack 'std'"):
        load_norm_stats(tmp_path / "bad")


def test_save_load_infer_with_norm_stats(tiny_model, tiny_cfg, tmp_path):
    from roboos.brain.policies.pi0.policy import Pi0Policy

    stats = NormStats(
        state=Stats(np.zeros(5), np.ones(5)), actions=Stats(np.full(5, 100.0), np.full(5, 0.001))
    )
    save_checkpoint(tiny_model, tiny_cfg, tmp_path, stats)
    # a LeRobot-style copy of the same weights (openpi names under "model.") must load too
    lerobot = tmp_path / "lerobot"
    lerobot.mkdir()
    save_file(
        {"model." + _openpi_name(k): v.contiguous() for k, v in tiny_model.state_dict().items()},
        str(lerobot / "model.safetensors"),
    )
    (lerobot / "config.json").write_text((tmp_path / "config.json").read_text())
    obs = {
        "images": {"base_0_rgb": np.full((40, 30, 3), 128, np.uint8)},
        "state": np.ones(5, np.float32),
        "prompt": "stack the blocks",
    }
    outs = []
    for folder in (tmp_path, lerobot):
        policy = Pi0Policy.from_checkpoint(folder, tokenizer="bytes", seed=3)
        out = policy.infer(obs)
        outs.append(out)
    assert outs[0]["actions"].shape == (tiny_cfg.chunk_size, 5)  # cropped to the stats' action width
    assert np.all(np.abs(outs[0]["actions"] - 100.0) < 1.0)  # de-normalised around the action mean
    assert outs[1]["actions"].shape == (tiny_cfg.chunk_size, tiny_cfg.action_dim)  # no stats beside it


def test_missing_tokenizer_is_a_clear_error(tiny_model, tiny_cfg, tmp_path):
    from roboos.brain.policies.pi0.policy import Pi0Policy

    save_checkpoint(tiny_model, tiny_cfg, tmp_path)
    with pytest.raises(FileNotFoundError, match="--tokenizer"):
        Pi0Policy.from_checkpoint(tmp_path)
