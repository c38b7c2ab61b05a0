"""Fixtures of the kinematic world tests: a fresh household world with both default robots."""

from __future__ import annotations

import pytest

from roboos.sim.kinematic.robots import SimArm, SimMobileManipulator
from roboos.sim.kinematic.world import World


@pytest.fixture
def world() -> World:
    return World.from_file(time_scale=0.0)


@pytest.fixture
def arm(world: World) -> SimArm:
    robot = SimArm("arm1", world, at="workbench", reach=["workbench", "shelf", "bin"])
    robot.connect()
    return robot


@pytest.fixture
def rover(world: World) -> SimMobileManipulator:
    robot = SimMobileManipulator("rover1", world, at="dock")
    robot.connect()
    return robot
