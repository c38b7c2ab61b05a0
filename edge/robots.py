"""The robot-kind registry: ``kind`` name -> factory, so backends plug in without touching the agent.

Like LeRobot's config registry: a backend registers its kind once (a factory, an options model and the
"world" its robots share), and an edge config names robots by kind::

    robots:
      - {name: arm1, kind: sim_arm, options: {reach: [workbench, shelf]}}

Built-in kinds: ``sim_arm`` and ``sim_mobile_manipulator`` (the kinematic household world). Factories
may be given as ``"module:function"`` strings so heavy backends (MuJoCo, ROS 2) import only when used.
Robots whose kind names the same ``world`` key share one world object per :func:`make_robots` call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from roboos.config import ConfigError, builtin_config
from roboos.robot import Robot

if TYPE_CHECKING:
    from roboos.edge.config import RobotConfig

RobotFactory = Callable[["RobotConfig", Any], Robot]
WorldFactory = Callable[[Path, "float | None"], Any]


@dataclass(frozen=True)
class RobotKind:
    """A registered robot backend."""

    kind: str
    factory: RobotFactory | str  # callable, or "module:function" imported on first use
    embodiment: str = ""  # default embodiment tag of robots of this kind
    options: type[BaseModel] | None = None  # validates RobotConfig.options (None: free-form)
    world: str | None = None  # robots whose kinds share this key share one world object
    world_factory: WorldFactory | str | None = None  # (scene path, time_scale) -> world
    description: str = ""

    def resolve_factory(self) -> RobotFactory:
        return _resolve(self.factory)


class UnknownRobotKind(KeyError):
    """No backend registered under that kind name."""

    def __str__(self) -> str:
        return str(self.args[0])


_KINDS: dict[str, RobotKind] = {}


def register_robot_kind(kind: str, factory: RobotFactory | str, *, embodiment: str = "",
                        options: type[BaseModel] | None = None, world: str | None = None,
                        world_factory: WorldFactory | str | None = None, description: str = "",
                        replace: bool = False) -> RobotKind:
    """Register a robot backend under ``kind`` (refuses to replace an existing one unless asked)."""
    if kind in _KINDS and not replace:
        raise ValueError(f"robot kind '{kind}' is already registered")
    if world is not None and world_factory is None:
        raise ValueError(f"robot kind '{kind}': a shared world needs a world_factory")
    entry = RobotKind(kind=kind, factory=factory, embodiment=embodiment, options=options, world=world,
                      world_factory=world_factory, description=description)
    _KINDS[kind] = entry
    return entry


def robot_kinds() -> dict[str, RobotKind]:
    """All registered kinds by name."""
    return dict(_KINDS)


def get_robot_kind(kind: str) -> RobotKind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise UnknownRobotKind(f"unknown robot kind '{kind}'; known kinds: {', '.join(sorted(_KINDS))}") from None


def resolve_scene_path(scene: str | Path) -> Path:
    """A scene given as a path (absolute or relative to the working directory) or a file under configs/."""
    path = Path(scene)
    if path.exists():
        return path
    try:
        return builtin_config(str(scene))
    except ConfigError:
        raise ConfigError(str(scene), None, "no such scene file (neither a path nor a file under configs/)") from None


def make_robot(config: RobotConfig, world: Any = None, *, scene: str | Path = "scenes/household.yaml",
               time_scale: float | None = None) -> Robot:
    """Build one robot from its config; ``world`` is shared state of its backend (built if ``None``)."""
    entry = get_robot_kind(config.kind)
    if world is None and entry.world_factory is not None:
        world = _resolve(entry.world_factory)(resolve_scene_path(scene), time_scale)
    return entry.resolve_factory()(config, world)


def make_robots(configs: Sequence[RobotConfig], *, scene: str | Path = "scenes/household.yaml",
                time_scale: float | None = None, worlds: dict[str, Any] | None = None) -> list[Robot]:
    """Build several robots; robots of kinds with the same ``world`` key share one world object."""
    worlds = {} if worlds is None else worlds
    robots = []
    for cfg in configs:
        entry = get_robot_kind(cfg.kind)
        world = None
        if entry.world is not None:
            if entry.world not in worlds:
                worlds[entry.world] = _resolve(entry.world_factory)(resolve_scene_path(scene), time_scale)
            world = worlds[entry.world]
        robots.append(make_robot(cfg, world, scene=scene, time_scale=time_scale))
    return robots


def validate_options(kind: str, options: dict[str, Any]) -> BaseModel | dict[str, Any]:
    """Validate a robot's options with its kind's model (raises ``pydantic.ValidationError``)."""
    entry = get_robot_kind(kind)
    return entry.options.model_validate(options) if entry.options is not None else options


def _resolve(target: Any) -> Any:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


# ------------------------------------------------------------------------- built-in kinematic kinds
class _KinematicOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: str | None = None  # start place; default: the scene's robots.<name>.at
    inject_failures: dict[str, int] = Field(default_factory=dict)  # skill -> how many calls fail


class SimArmOptions(_KinematicOptions):
    """Options of ``sim_arm``: where it stands and which places it reaches."""

    reach: list[str] | None = None  # default: the scene's robots.<name>.reach (else just ``at``)


class SimMobileOptions(_KinematicOptions):
    """Options of ``sim_mobile_manipulator``: where it starts and how fast it drives."""

    speed_m_s: float = Field(default=1.0, gt=0)


_KINEMATIC = "roboos.sim.kinematic.factory"
register_robot_kind("sim_arm", f"{_KINEMATIC}:make_sim_arm", embodiment="arm", options=SimArmOptions,
                    world="kinematic", world_factory=f"{_KINEMATIC}:make_world",
                    description="kinematic fixed single arm with a parallel gripper (household scene)")
register_robot_kind("sim_mobile_manipulator", f"{_KINEMATIC}:make_sim_mobile_manipulator",
                    embodiment="mobile_manipulator", options=SimMobileOptions, world="kinematic",
                    world_factory=f"{_KINEMATIC}:make_world",
                    description="kinematic wheeled base with one arm (household scene)")

# ROS 2 bridge kinds ros2_arm / ros2_household_arm (options are pydantic only; rclpy loads when built)
from roboos.edge.ros2.kinds import register_ros2_kinds  # noqa: E402

register_ros2_kinds()


# ---------------------------------------------------------------------------- MuJoCo kinds (lazy imports)
class MujocoOptions(BaseModel):
    """Options of the MuJoCo kinds (the robot's name must match a robot of the MuJoCo scene)."""

    model_config = ConfigDict(extra="forbid")

    inject_failures: dict[str, int] = Field(default_factory=dict)
    speed_m_s: float = Field(default=0.8, gt=0)  # mobile base only


_MUJOCO = "roboos.sim.mujoco.factory"
register_robot_kind("mujoco_arm", f"{_MUJOCO}:make_mujoco_arm", embodiment="arm", options=MujocoOptions,
                    world="mujoco", world_factory=f"{_MUJOCO}:make_world",
                    description="MuJoCo 6-DoF arm + parallel gripper (physics; needs roboos[sim])")
register_robot_kind("mujoco_mobile_manipulator", f"{_MUJOCO}:make_mujoco_mobile_manipulator",
                    embodiment="mobile_manipulator", options=MujocoOptions, world="mujoco",
                    world_factory=f"{_MUJOCO}:make_world",
                    description="MuJoCo holonomic base + 6-DoF arm (physics; needs roboos[sim])")
