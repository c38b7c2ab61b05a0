"""The policy agent against a real policy server (a tiny random π0) over both protocols."""

from __future__ import annotations

from pathlib import Path

import pytest

from roboos.sim.competition.episode import run_episode
from roboos.sim.tasks.spec import load_suite


@pytest.fixture(scope="module")
def policy_server():
    pytest.importorskip("torch")
    from roboos.brain.policies.pi0.policy import Pi0Policy
    from roboos.brain.policy_server.server import BackgroundPolicyServer

    policy = Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0)
    with BackgroundPolicyServer(policy, port=0, zmq_bind="tcp://127.0.0.1:0", gather_ms=5.0) as server:
        yield server.addresses


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["websocket", "zmq"])
def test_policy_agent_drives_the_env_through_the_server(policy_server, protocol: str, tmp_path: Path) -> None:
    endpoint = getattr(policy_server, protocol)
    task = load_suite("standard").task("pick_up")
    result = run_episode("standard", task, 0, agent="policy", out_dir=tmp_path,
                         agent_options={"endpoint": endpoint, "max_sim_s": 1.0})
    assert result.agent == "policy" and result.sim_time_s >= 1.0 and result.sim_steps >= 500
    assert not result.success and "not held" in result.reason  # a random policy does not solve it
    assert result.frames and (tmp_path / result.frames[-1]).exists()


def test_policy_endpoint_is_validated() -> None:
    from roboos.sim.competition.policy_agent import PolicyConnection

    with pytest.raises(ValueError, match="ws://host:port or tcp://host:port"):
        PolicyConnection("http://127.0.0.1:1")
