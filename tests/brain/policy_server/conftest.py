"""Fixtures: a tiny random π0 served in a background thread (its own event loop) on ephemeral ports."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_pi0_policy():
    from roboos.brain.policies.pi0.policy import Pi0Policy

    return Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0)


@pytest.fixture(scope="module")
def served(tiny_pi0_policy) -> Iterator:
    from roboos.brain.policy_server.server import BackgroundPolicyServer

    with BackgroundPolicyServer(tiny_pi0_policy, port=0, zmq_bind="tcp://127.0.0.1:0", gather_ms=20.0) as srv:
        yield srv


@pytest.fixture
def good_obs() -> dict:
    rng = np.random.default_rng(0)
    return {
        "observation/image": rng.integers(0, 255, (48, 64, 3), dtype=np.uint8),
        "observation/state": rng.normal(size=5).astype(np.float32),
        "prompt": "pick up the cup",
    }
