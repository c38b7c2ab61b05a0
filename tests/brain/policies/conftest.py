"""Fixtures: tiny random π0 models (float32, CPU) and a tiny X0 checkpoint folder."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def tiny_cfg():
    from roboos.brain.policies.pi0.config import preset

    return preset("tiny")


@pytest.fixture(scope="module")
def tiny_model(tiny_cfg):
    from roboos.brain.policies.pi0.model import Pi0Model

    torch.manual_seed(0)
    model = Pi0Model(tiny_cfg).eval()
    with torch.no_grad():  # larger weights than the default init so every path visibly matters
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model


@pytest.fixture
def tiny_inputs(tiny_cfg):
    g = torch.Generator().manual_seed(1)
    c = tiny_cfg
    b, s = 2, c.vision.image_size
    token_masks = torch.ones(b, c.max_token_len, dtype=torch.bool)
    token_masks[1, 3:] = False  # a short prompt: padding must be masked
    return {
        "images": torch.rand(b, len(c.cameras), 3, s, s, generator=g) * 2 - 1,
        "image_masks": torch.tensor([[True, True], [True, False]]),  # second sample lacks a camera
        "tokens": torch.randint(0, c.vlm.vocab_size, (b, c.max_token_len), generator=g),
        "token_masks": token_masks,
        "state": torch.randn(b, c.state_dim, generator=g),
        "noise": torch.randn(b, c.chunk_size, c.action_dim, generator=g),
    }


@pytest.fixture(scope="session")
def tiny_x0_dir(tmp_path_factory):
    from roboos.brain.policies.x0.tiny import build_tiny_x0

    return build_tiny_x0(tmp_path_factory.mktemp("x0"), embodiment="single_arm")
