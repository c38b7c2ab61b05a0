"""ROS 2 bridge test fixtures: a private ROS domain, the test controller and a connected bridge robot.

Every test run gets its own ``ROS_DOMAIN_ID`` (from the process id) and localhost-only discovery, so
parallel runs and other ROS graphs on the machine do not see each other. Subprocesses inherit both.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 100)
os.environ["ROS_LOCALHOST_ONLY"] = "1"  # ROS 2 <= Iron
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # ROS 2 >= Jazzy

sys.path.insert(0, str(Path(__file__).parent))

from ros2_testlib import COMMAND_TOPIC, JOINTS, STATE_TOPIC, arm_options, wait_until


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if here in path.parents and path.name != "test_ros2_trajectory.py":  # that one is numpy only
            item.add_marker(pytest.mark.ros)


@pytest.fixture
def controller() -> Iterator[object]:
    pytest.importorskip("rclpy")
    from ros2_test_controller import TestTrajectoryController

    ctrl = TestTrajectoryController(JOINTS, command_topic=COMMAND_TOPIC, state_topic=STATE_TOPIC)
    try:
        yield ctrl
    finally:
        ctrl.close()


@pytest.fixture
def arm(controller: object) -> Iterator[object]:
    """A connected ``Ros2Arm`` ('arm1') talking to the test controller."""
    from roboos.edge.ros2.robot import Ros2Arm

    robot = Ros2Arm("arm1", arm_options())
    robot.connect()
    try:
        wait_until(
            lambda: robot.ros.controller_connected() and robot.ros.state_age() is not None, what="controller"
        )
        yield robot
    finally:
        robot.disconnect()
