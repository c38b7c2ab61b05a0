"""Joint / velocity / workspace limits: refused with a clear error before anything reaches the robot."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from roboos.channel import CloudChannel
from roboos.edge.agent import EdgeAgent
from roboos.edge.config import RobotConfig
from roboos.edge.limits import Box, LimitChecker, LimitsConfig, LimitViolation, install_limits
from roboos.edge.robots import make_robot
from roboos.robot import Robot, RobotState

ARM = LimitsConfig(
    joints=[{"name": "shoulder", "min": -1.0, "max": 1.0, "max_velocity": 2.0}, {"name": "elbow", "min": 0.0, "max": 2.0}],
    max_joint_velocity=1.0, max_base_speed_m_s=0.8,
    workspace={"min": [-0.5, -0.5, 0.0], "max": [0.5, 0.5, 1.0]}, base_workspace={"min": [-1, -1], "max": [5, 3.5]},
)


def test_joint_positions_in_and_out_of_range() -> None:
    c = LimitChecker(ARM)
    c.check_joint_positions([0.5, 1.0])
    c.check_joint_positions({"elbow": 2.0})
    with pytest.raises(LimitViolation, match=r"shoulder = 1.5 is outside \[-1, 1\]") as err:
        c.check_joint_positions([1.5, 1.0])
    assert err.value.code == "limit_violation" and err.value.details["joint"] == 0
    with pytest.raises(LimitViolation, match="unknown joint 'wrist'"):
        c.check_joint_positions({"wrist": 0.0})
    with pytest.raises(LimitViolation, match="2 joints are configured"):
        c.check_joint_positions([0.0, 0.0, 0.0])
    with pytest.raises(LimitViolation, match="nan"):
        c.check_joint_positions([float("nan"), 0.0])


def test_action_chunk_range_and_speed() -> None:
    c = LimitChecker(ARM)
    ok = np.array([[0.0, 0.5], [0.05, 0.52], [0.1, 0.54]])
    c.check_action_chunk(ok, rate_hz=10, start=[0.0, 0.5])
    with pytest.raises(LimitViolation, match="action step 1: shoulder would move at 3/s, limit 2/s"):
        c.check_action_chunk([[0.0, 0.5], [0.3, 0.5]], rate_hz=10)
    with pytest.raises(LimitViolation, match="action step 0: elbow would move at 5/s, limit 1/s"):
        c.check_action_chunk([[0.0, 1.0]], rate_hz=10, start=[0.0, 0.5])  # from the current pose
    with pytest.raises(LimitViolation, match="action step 2: elbow"):
        c.check_action_chunk([[0, 0.5], [0, 0.5], [0, 2.5]], rate_hz=None)
    with pytest.raises(LimitViolation, match="2-D"):
        c.check_action_chunk([0.0, 0.5], rate_hz=10)


def test_cartesian_base_and_speed_limits() -> None:
    c = LimitChecker(ARM)
    c.check_args({"xyz": [0.1, 0.2, 0.3], "speed_m_s": 0.5, "x": 4.0, "y": 3.0})
    with pytest.raises(LimitViolation, match=r"xyz z = 1.2 is outside the workspace \[0, 1\]"):
        c.check_args({"xyz": [0.1, 0.2, 1.2]})
    with pytest.raises(LimitViolation, match="base speed 1.5 m/s exceeds the limit 0.8 m/s"):
        c.check_args({"speed_m_s": 1.5})
    with pytest.raises(LimitViolation, match="joint speed 3 exceeds the limit 1"):
        c.check_args({"max_velocity": 3})
    with pytest.raises(LimitViolation, match="base target y = 4 is outside the base_workspace"):
        c.check_args({"x": 0.0, "y": 4.0})
    with pytest.raises(LimitViolation, match="place 'coffee_table' y = 4"):
        c.check_args({"target": "coffee_table"}, resolve_place=lambda p: (0.0, 4.0))


def test_malformed_limits_name_the_key() -> None:
    with pytest.raises(ValidationError, match="min"):
        LimitsConfig(joints=[{"min": 1.0, "max": 0.0}])
    with pytest.raises(ValidationError, match="max"):
        Box(min=[0, 0], max=[1, 1, 1])
    with pytest.raises(ValidationError):
        LimitsConfig(max_joint_velocity=-1)
    with pytest.raises(ValidationError):
        LimitsConfig(unknown_key=1)


def test_agent_refuses_a_navigation_outside_the_base_workspace(tcp_endpoint: str) -> None:
    async def main() -> None:
        cloud = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.1)
        await cloud.start()
        robot = make_robot(RobotConfig(name="rover1", kind="sim_mobile_manipulator"), time_scale=0)
        agent = EdgeAgent(robot, tcp_endpoint, heartbeat_interval_s=0.1)
        install_limits(agent, LimitsConfig(base_workspace={"min": [-1, -1], "max": [5, 3.5]}))
        runner = asyncio.create_task(agent.run())
        try:
            for _ in range(500):
                if cloud.connected("rover1"):
                    break
                await asyncio.sleep(0.02)
            before = robot.get_state()
            refused = (await cloud.call("rover1", {"skill": "navigate", "args": {"target": "coffee_table"}},
                                        timeout=10)).body
            assert not refused["ok"] and refused["error"]["code"] == "limit_violation"
            assert "coffee_table" in refused["error"]["message"] and "base_workspace" in refused["error"]["message"]
            assert robot.get_state().pose == before.pose  # nothing reached the robot
            ok = (await cloud.call("rover1", {"skill": "navigate", "args": {"target": "kitchen_counter"}},
                                   timeout=10)).body
            assert ok["ok"] and robot.get_state().location == "kitchen_counter"
        finally:
            await agent.stop()
            await asyncio.wait_for(runner, 10)
            await cloud.close()

    asyncio.run(main())


class _ActionArm(Robot):
    """A minimal action-taking robot: records what reaches it."""

    name, embodiment = "arm9", "arm"

    def __init__(self) -> None:
        self.applied: list[Sequence[float]] = []

    def get_state(self) -> RobotState:
        return RobotState(robot=self.name, embodiment=self.embodiment, joints=[0.0, 0.5])

    def stop(self) -> None:
        pass

    def skills(self) -> list:
        return []

    def apply_action(self, action: Sequence[float]) -> None:
        self.applied.append(list(action))


def test_low_level_actions_are_checked_before_the_robot() -> None:
    arm = _ActionArm()
    agent = EdgeAgent(arm, "tcp://127.0.0.1:1")
    install_limits(agent, ARM)
    arm.apply_action(np.array([0.2, 0.6]))
    with pytest.raises(LimitViolation, match="action: elbow = -1"):
        arm.apply_action(np.array([0.2, -1.0]))
    assert arm.applied == [[0.2, 0.6]]
