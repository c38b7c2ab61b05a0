"""Constants and helpers shared by the ROS 2 bridge tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import time
from collections.abc import Callable

JOINTS = ["shoulder", "upper_arm", "elbow", "wrist_1", "wrist_2", "wrist_3"]
COMMAND_TOPIC = "/test_arm_controller/joint_trajectory"
STATE_TOPIC = "/test_arm/joint_states"


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def arm_options(**overrides: object) -> object:
    from roboos.edge.ros2.config import Ros2ArmOptions

    base = dict(
        joints=JOINTS,
        joint_state_topic=STATE_TOPIC,
        trajectory_topic=COMMAND_TOPIC,
        max_velocity=8.0,
        min_move_s=0.1,
        stale_after_s=0.5,
        controller_wait_s=2.0,
        goal_time_tolerance_s=0.5,
        poses={"home": [0.0] * 6, "ready": [0.3, -0.5, 0.8, 0.0, 0.2, 0.0]},
    )
    base.update(overrides)
    return Ros2ArmOptions(**base)
