"""Joint, velocity and workspace limits, enforced on the edge before a command reaches the robot.

Limits come from the robot's entry in the edge config (``robots[i].limits``). A command that violates
one is **refused** with a :class:`LimitViolation` (code ``limit_violation``) naming the joint or axis,
the value and the limit — never clipped silently. Two seams, both installed by :func:`install_limits`:

* a call guard (the agent's ``add_call_guard`` hook) checks skill arguments before the skill runs:
  ``positions`` / ``joints`` (joint targets, list or name -> value), ``actions`` + ``rate_hz`` (a VLA
  action chunk: every row in range, every step within the velocity limit), ``speed_m_s`` / ``speed``
  (base speed), ``velocity`` / ``max_velocity`` (joint speed), ``xyz`` / ``point`` / ``target_xyz``
  (Cartesian targets, against ``workspace``), ``x`` + ``y`` or a place name in ``target`` (base
  targets, against ``base_workspace``; place names are resolved through the robot's world when it has
  one);
* for robots taking low-level actions (``apply_action``), every action vector is checked before it is
  forwarded.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from roboos.config import KeyedConfigError
from roboos.skills.errors import SkillError

if TYPE_CHECKING:
    from roboos.edge.agent import EdgeAgent
    from roboos.protocol.messages import CallBody
    from roboos.robot import Robot
    from roboos.skills.sdk import SkillSpec

log = logging.getLogger("roboos.edge.limits")


class LimitViolation(SkillError):
    """A command outside the robot's configured limits; refused before it reached the robot."""

    code = "limit_violation"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JointLimit(_Model):
    """Range (rad or m) and optional speed limit of one joint."""

    name: str | None = None
    min: float
    max: float
    max_velocity: float | None = Field(default=None, gt=0)  # rad/s (m/s for prismatic joints)

    @model_validator(mode="after")
    def _ordered(self) -> JointLimit:
        if not self.min < self.max:
            raise KeyedConfigError("min", f"min ({self.min}) must be below max ({self.max})")
        return self


class Box(_Model):
    """An axis-aligned box: ``min`` and ``max`` corners with 2 (x, y) or 3 (x, y, z) coordinates."""

    min: list[float] = Field(min_length=2, max_length=3)
    max: list[float] = Field(min_length=2, max_length=3)

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if len(self.min) != len(self.max):
            raise KeyedConfigError("max", "min and max need the same number of coordinates")
        for i, (lo, hi) in enumerate(zip(self.min, self.max)):
            if not lo < hi:
                raise KeyedConfigError(f"max.{i}", f"max ({hi}) must be above min ({lo})")
        return self


class LimitsConfig(_Model):
    """Limits of one robot (``limits:`` of a robot in the edge config)."""

    joints: list[JointLimit] = Field(default_factory=list)  # in the robot's joint order
    max_joint_velocity: float | None = Field(default=None, gt=0)  # for joints without their own
    max_base_speed_m_s: float | None = Field(default=None, gt=0)
    workspace: Box | None = None  # Cartesian targets of the end effector
    base_workspace: Box | None = None  # where a mobile base may go (x, y)


AXES = "xyz"


class LimitChecker:
    """Checks commands against a :class:`LimitsConfig`; every check raises :class:`LimitViolation`."""

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config
        self._by_name = {j.name: i for i, j in enumerate(config.joints) if j.name}

    # --------------------------------------------------------------------------------- joints
    def joint_vector(self, positions: Sequence[float] | Mapping[str, float]) -> list[tuple[int, float]]:
        """(joint index, value) pairs of a list or a name -> value mapping."""
        if isinstance(positions, Mapping):
            out = []
            for name, value in positions.items():
                if name not in self._by_name:
                    if self.config.joints:
                        raise LimitViolation(f"unknown joint '{name}'; limited joints: {', '.join(self._by_name)}",
                                             joint=name)
                    continue
                out.append((self._by_name[name], float(value)))
            return out
        return [(i, float(v)) for i, v in enumerate(positions)]

    def _name(self, i: int) -> str:
        joints = self.config.joints
        return joints[i].name or f"joint {i}" if i < len(joints) else f"joint {i}"

    def check_joint_positions(self, positions: Sequence[float] | Mapping[str, float], what: str = "target") -> None:
        joints = self.config.joints
        for i, value in self.joint_vector(positions):
            if not math.isfinite(value):
                raise LimitViolation(f"{what}: {self._name(i)} is {value}", joint=i)
            if i >= len(joints):
                if joints:
                    raise LimitViolation(f"{what}: {len(joints)} joints are configured, got joint {i}", joint=i)
                continue
            lim = joints[i]
            if not lim.min <= value <= lim.max:
                raise LimitViolation(f"{what}: {self._name(i)} = {value:.4g} is outside [{lim.min:g}, {lim.max:g}]",
                                     joint=i, value=value, min=lim.min, max=lim.max)

    def max_velocity(self, i: int) -> float | None:
        joints = self.config.joints
        own = joints[i].max_velocity if i < len(joints) else None
        return own if own is not None else self.config.max_joint_velocity

    def check_joint_speed(self, speed: float, what: str = "joint speed") -> None:
        limit = self.config.max_joint_velocity
        if limit is not None and not abs(speed) <= limit:
            raise LimitViolation(f"{what} {speed:.4g} exceeds the limit {limit:g}", value=speed, max=limit)

    def check_action_chunk(self, actions: Any, rate_hz: float | None, start: Sequence[float] | None = None) -> None:
        """Every row within range; consecutive rows (and the first vs ``start``) within the speed limits."""
        arr = np.asarray(actions, dtype=np.float64)
        if arr.ndim != 2:
            raise LimitViolation(f"an action chunk must be 2-D (steps x joints), got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise LimitViolation("the action chunk contains NaN or infinite values")
        for t, row in enumerate(arr):
            self.check_joint_positions(row.tolist(), what=f"action step {t}")
        if rate_hz is None:
            return
        prev = np.asarray(start, dtype=np.float64)[: arr.shape[1]] if start is not None else None
        for t, row in enumerate(arr):
            if prev is not None and prev.shape == row.shape:
                speeds = np.abs(row - prev) * rate_hz
                for i, speed in enumerate(speeds):
                    limit = self.max_velocity(i)
                    if limit is not None and speed > limit:
                        raise LimitViolation(
                            f"action step {t}: {self._name(i)} would move at {speed:.4g}/s, limit {limit:g}/s",
                            joint=i, step=t, value=float(speed), max=limit)
            prev = row

    # ------------------------------------------------------------------------------- Cartesian
    def check_point(self, xyz: Sequence[float], what: str = "target") -> None:
        self._check_box(self.config.workspace, xyz, what, "workspace")

    def check_base_target(self, xy: Sequence[float], what: str = "base target") -> None:
        self._check_box(self.config.base_workspace, xy, what, "base_workspace")

    def check_base_speed(self, speed: float) -> None:
        limit = self.config.max_base_speed_m_s
        if limit is not None and not abs(speed) <= limit:
            raise LimitViolation(f"base speed {speed:.4g} m/s exceeds the limit {limit:g} m/s", value=speed, max=limit)

    @staticmethod
    def _check_box(box: Box | None, point: Sequence[float], what: str, key: str) -> None:
        if box is None:
            return
        coords = [float(c) for c in point]
        for i, (lo, hi) in enumerate(zip(box.min, box.max)):
            if i >= len(coords):
                break
            if not lo <= coords[i] <= hi:
                raise LimitViolation(f"{what} {AXES[i]} = {coords[i]:.4g} is outside the {key} [{lo:g}, {hi:g}]",
                                     axis=AXES[i], value=coords[i], min=lo, max=hi)

    # --------------------------------------------------------------------------------- skill args
    def check_args(self, args: Mapping[str, Any], *, start_joints: Sequence[float] | None = None,
                   resolve_place: Callable[[str], Sequence[float] | None] | None = None) -> None:
        """Check the conventional command arguments of a skill call (see the module docstring)."""
        for key in ("positions", "joints"):
            if isinstance(args.get(key), (list, tuple, Mapping)):
                self.check_joint_positions(args[key])
        if isinstance(args.get("actions"), (list, tuple, np.ndarray)):
            rate = args.get("rate_hz")
            self.check_action_chunk(args["actions"], float(rate) if isinstance(rate, (int, float)) else None,
                                    start_joints)
        for key in ("speed_m_s", "speed"):
            if isinstance(args.get(key), (int, float)):
                self.check_base_speed(float(args[key]))
        for key in ("velocity", "max_velocity"):
            if isinstance(args.get(key), (int, float)):
                self.check_joint_speed(float(args[key]))
        for key in ("xyz", "point", "target_xyz"):
            if isinstance(args.get(key), (list, tuple)) and len(args[key]) == 3:
                self.check_point(args[key], what=key)
        if isinstance(args.get("x"), (int, float)) and isinstance(args.get("y"), (int, float)):
            self.check_base_target([args["x"], args["y"]])
        target = args.get("target")
        if isinstance(target, str) and resolve_place is not None and self.config.base_workspace is not None:
            xy = resolve_place(target)
            if xy is not None:
                self.check_base_target(xy, what=f"place '{target}'")


def place_resolver(robot: Robot) -> Callable[[str], Sequence[float] | None] | None:
    """Resolve place names to (x, y) through the robot's world, when it has one (the sim robots do)."""
    world = getattr(robot, "world", None)
    position = getattr(world, "position", None)
    if position is None:
        return None

    def resolve(place: str) -> Sequence[float] | None:
        try:
            return tuple(position(place))
        except Exception:  # noqa: BLE001 - an unknown place is the skill's own error to report
            return None

    return resolve


def install_limits(agent: EdgeAgent, config: LimitsConfig) -> LimitChecker:
    """Enforce ``config`` on ``agent``: a call guard plus a checked ``apply_action`` when the robot has one."""
    checker = LimitChecker(config)
    robot = agent.robot
    resolve = place_resolver(robot)

    def guard(call: CallBody, spec: SkillSpec) -> None:
        start = None
        if isinstance(call.args.get("actions"), (list, tuple)):
            try:
                start = robot.get_state().joints
            except Exception:  # noqa: BLE001 - without a start pose the first step is not speed-checked
                start = None
        try:
            checker.check_args(call.args, start_joints=start, resolve_place=resolve)
        except LimitViolation as exc:
            log.warning("%s: refused %s: %s", agent.name, call.skill, exc.message)
            raise

    agent.add_call_guard(guard)
    apply = getattr(robot, "apply_action", None)
    if callable(apply):
        def checked_apply_action(action: Any) -> None:
            checker.check_joint_positions(np.asarray(action, dtype=np.float64).ravel().tolist(), what="action")
            apply(action)

        robot.apply_action = checked_apply_action  # type: ignore[attr-defined]
    return checker
