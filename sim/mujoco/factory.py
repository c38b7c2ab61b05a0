"""Factories of the MuJoCo robot kinds (``mujoco_arm``, ``mujoco_mobile_manipulator``) for the edge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roboos.robot import RobotError
from roboos.sim.mujoco.robots import MujocoArm, MujocoMobileManipulator
from roboos.sim.mujoco.scene_io import load_world
from roboos.sim.mujoco.world import MujocoWorld

if TYPE_CHECKING:
    from roboos.edge.config import RobotConfig

make_world = load_world


def _check(config: RobotConfig, world: MujocoWorld, kind: str) -> None:
    names = {r.name: r.kind for r in world.layout.robots}
    if names.get(config.name) != kind:
        have = ", ".join(f"{n} ({k})" for n, k in names.items())
        raise RobotError(f"robot '{config.name}': the MuJoCo scene '{world.layout.name}' has no {kind} of that name "
                         f"(robots: {have})")


def _opts(config: RobotConfig) -> Any:
    from roboos.edge.robots import validate_options

    return validate_options(config.kind, config.options)


def make_mujoco_arm(config: RobotConfig, world: MujocoWorld) -> MujocoArm:
    _check(config, world, "arm")
    robot = MujocoArm(config.name, world, **({"embodiment": config.embodiment} if config.embodiment else {}))
    robot.failures.update(_opts(config).inject_failures)
    return robot


def make_mujoco_mobile_manipulator(config: RobotConfig, world: MujocoWorld) -> MujocoMobileManipulator:
    _check(config, world, "mobile")
    opts = _opts(config)
    robot = MujocoMobileManipulator(config.name, world, speed_m_s=opts.speed_m_s,
                                    **({"embodiment": config.embodiment} if config.embodiment else {}))
    robot.failures.update(opts.inject_failures)
    return robot
