"""Factories of the kinematic robot kinds (registered in :mod:`roboos.edge.robots` as ``sim_arm`` and
``sim_mobile_manipulator``): they place each robot at its scene station unless its options say otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from roboos.robot import RobotError
from roboos.sim.kinematic.robots import KinematicRobot, SimArm, SimMobileManipulator
from roboos.sim.kinematic.world import World

if TYPE_CHECKING:
    from roboos.edge.config import RobotConfig


def make_world(scene: Path, time_scale: float | None) -> World:
    """The world shared by the kinematic robots of one process."""
    return World.from_file(scene, time_scale=time_scale)


def make_sim_arm(config: RobotConfig, world: World) -> SimArm:
    """A fixed arm at ``options.at`` (or its scene station) reaching ``options.reach`` (or the station's)."""
    opts, station = _options(config), world.scene.robots.get(config.name)
    at = _start_place(config, world, opts.at, mobile=False)
    reach = opts.reach if opts.reach is not None else (station.reach if station and station.reach else [at])
    _check_places(config, world, [at, *reach])
    robot = SimArm(config.name, world, at=at, reach=reach, **_embodiment(config))
    return _with_failures(robot, opts.inject_failures)


def make_sim_mobile_manipulator(config: RobotConfig, world: World) -> SimMobileManipulator:
    """A wheeled manipulator starting at ``options.at`` (or its scene station, else the first station)."""
    opts = _options(config)
    at = _start_place(config, world, opts.at, mobile=True)
    _check_places(config, world, [at])
    robot = SimMobileManipulator(config.name, world, at=at, speed_m_s=opts.speed_m_s, **_embodiment(config))
    return _with_failures(robot, opts.inject_failures)


def _options(config: RobotConfig) -> Any:
    from roboos.edge.robots import validate_options

    return validate_options(config.kind, config.options)


def _start_place(config: RobotConfig, world: World, at: str | None, *, mobile: bool) -> str:
    if at:
        return at
    station = world.scene.robots.get(config.name)
    if station is not None:
        return station.at
    stations = [p.name for p in world.scene.places if p.kind.value == "station"]
    return (stations if mobile and stations else world.place_names())[0]


def _check_places(config: RobotConfig, world: World, places: list[str]) -> None:
    known = world.place_names()
    for place in places:
        if place not in known:
            raise RobotError(f"robot '{config.name}': unknown place '{place}' in scene '{world.scene.name}' "
                             f"(places: {', '.join(known)})")


def _embodiment(config: RobotConfig) -> dict[str, str]:
    return {"embodiment": config.embodiment} if config.embodiment else {}


def _with_failures(robot: KinematicRobot, failures: dict[str, int]) -> Any:
    skills = sorted(spec.name for spec in robot.skills())
    for skill_name, times in failures.items():
        if skill_name not in skills:
            raise RobotError(f"robot '{robot.name}': inject_failures names unknown skill '{skill_name}' "
                             f"(skills: {', '.join(skills)})")
        robot.world.inject_failure(skill_name, times, robot=robot.name)
    return robot
