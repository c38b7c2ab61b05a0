"""MuJoCo world fixtures (skipped when the sim extra is not installed)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported: headless rendering
pytest.importorskip("mujoco")

from roboos.sim.mujoco.robots import MujocoArm, MujocoMobileManipulator  # noqa: E402
from roboos.sim.mujoco.scenes import ObjectSpec  # noqa: E402
from roboos.sim.mujoco.world import MujocoWorld  # noqa: E402

OBJECTS = [ObjectSpec("red_cube", "cube", "red"), ObjectSpec("blue_can", "can", "blue"),
           ObjectSpec("green_block", "block", "green")]


@pytest.fixture
def tabletop():
    world = MujocoWorld("tabletop", OBJECTS)
    world.scatter({"red_cube": "table", "blue_can": "table", "green_block": "plate"}, np.random.default_rng(1))
    arm = MujocoArm("arm1", world)
    yield world, arm
    world.close()


@pytest.fixture
def household():
    world = MujocoWorld("household", OBJECTS)
    world.scatter({"red_cube": "workbench", "blue_can": "counter", "green_block": "dining_table"},
                  np.random.default_rng(2))
    robots = MujocoArm("arm1", world), MujocoMobileManipulator("rover1", world)
    yield world, robots
    world.close()
