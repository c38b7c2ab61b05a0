"""ActionChunkBroker and the VLA skill against a real policy server (tiny random π0, ZeroMQ endpoint)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest
from roboos.edge.chunks import ActionChunkBroker

from roboos.robot import Robot, RobotState


class PointArm(Robot):
    """A minimal kinematic arm: its joints move by each applied action (first 5 dims)."""

    name = "arm1"
    embodiment = "arm"

    def __init__(self) -> None:
        self.joints = np.zeros(5)
        self.applied: list[np.ndarray] = []
        self.stopped = False

    def get_state(self) -> RobotState:
        return RobotState(robot=self.name, embodiment=self.embodiment, joints=self.joints.tolist())

    def stop(self) -> None:
        self.stopped = True

    def skills(self):
        return []

    def get_observation(self) -> dict[str, np.ndarray]:
        img = np.full((32, 32, 3), int(self.joints.sum() * 10) % 255, np.uint8)
        return {"observation/image": img}

    def apply_action(self, action: np.ndarray) -> None:
        self.applied.append(np.asarray(action))
        self.joints = self.joints + 0.01 * np.asarray(action[:5])


@pytest.fixture(scope="module")
def server() -> Iterator:
    from roboos.brain.policies.pi0.policy import Pi0Policy
    from roboos.brain.policy_server.server import BackgroundPolicyServer

    policy = Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0)
    with BackgroundPolicyServer(policy, port=None, zmq_bind="tcp://127.0.0.1:0") as srv:
        yield srv


def test_broker_executes_at_control_rate_and_prefetches(server):
    from roboos.brain.policy_server.client import PolicyClient

    arm = PointArm()

    async def main():
        async with PolicyClient(server.addresses.zmq) as client:
            obs = lambda: dict(arm.get_observation(), state=arm.joints.astype(np.float32), prompt="wave")  # noqa: E731
            await client.infer(obs())  # warm-up: the server's first inference pays one-off start-up costs
            broker = ActionChunkBroker(
                client.infer, obs, arm.apply_action, control_hz=100.0, blend="average", margin_ticks=2
            )
            t0 = time.perf_counter()
            stats = await broker.run(30)
            return stats, time.perf_counter() - t0

    stats, elapsed = asyncio.run(asyncio.wait_for(main(), 120))
    assert stats.ticks == 30 and len(arm.applied) == 30
    assert stats.chunks >= 2  # chunks hold 6 actions: more were fetched while executing
    assert all(a.shape == (8,) and np.all(np.isfinite(a)) for a in arm.applied)
    assert elapsed >= 29 / 100.0  # paced by the control clock
    assert stats.summary()["latency_ms_p50"] is not None


def test_broker_surfaces_policy_errors(server):
    from roboos.brain.policy_server.client import PolicyClient, PolicyRemoteError

    async def main():
        async with PolicyClient(server.addresses.zmq) as client:
            broker = ActionChunkBroker(
                client.infer, lambda: {"state": np.zeros(3, np.float32)}, lambda a: None
            )
            await broker.run(5)

    with pytest.raises(PolicyRemoteError, match="missing camera"):
        asyncio.run(asyncio.wait_for(main(), 60))


def test_vla_skill_runs_a_subtask(server):
    from roboos.edge.vla_skill import make_vla_skill
    from roboos.skills.sdk import SkillContext

    spec = make_vla_skill(server.addresses.zmq, control_hz=100.0)
    assert "instruction" in spec.json_schema()["properties"]
    arm = PointArm()
    result = asyncio.run(
        spec.run({"instruction": "pick up the cup", "max_steps": 12}, robot=arm, context=SkillContext(arm))
    )
    assert result.ok, result.error
    assert result.value["ticks"] == 12 and result.value["policy"] == "pi0"
    assert len(arm.applied) == 12 and np.any(arm.joints != 0)


def test_vla_skill_refuses_robots_without_actions(server):
    from roboos.edge.vla_skill import make_vla_skill
    from roboos.skills.sdk import SkillContext

    class NoActions(PointArm):
        apply_action = None  # type: ignore[assignment]

    spec = make_vla_skill(server.addresses.zmq)
    robot = NoActions()
    result = asyncio.run(spec.run({"instruction": "x"}, robot=robot, context=SkillContext(robot)))
    assert not result.ok and "low-level actions" in result.error["message"]
