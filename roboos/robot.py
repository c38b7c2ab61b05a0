"""The ``Robot`` seam: the small interface every robot backend implements.

An edge agent drives a robot only through this interface, so the same agent runs a kinematic sim robot,
a MuJoCo robot, a ROS 2 robot behind the bridge node, or a vendor SDK. Skills receive the robot as an
injected argument (see :mod:`roboos.skills.sdk`) and call its methods; the agent itself only needs
``connect``/``disconnect``, ``get_state``, ``stop`` and ``skills``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from roboos.skills.sdk import SkillSpec


class Pose2D(BaseModel):
    """A planar pose of a mobile base, metres and radians in the world frame."""

    x: float = 0.0
    y: float = 0.0
    theta: float = 0.0


class RobotState(BaseModel):
    """A snapshot of one robot, streamed to the cloud in ``state`` messages."""

    robot: str
    embodiment: str
    status: str = "idle"  # idle | busy | stopped | error | offline
    location: str | None = None  # symbolic place the robot is at, where the world has places
    pose: Pose2D | None = None  # base pose for mobile robots
    joints: list[float] | None = None  # joint positions (rad / m) for arms
    holding: str | None = None  # object held by the gripper, if any
    extra: dict[str, Any] = Field(default_factory=dict)


class RobotError(RuntimeError):
    """A robot refused or failed a command; the message says why in words a user can act on."""


class Robot(abc.ABC):
    """Abstract robot: one physical or simulated machine driven by one edge agent.

    Subclasses set ``name`` and ``embodiment`` (a tag such as ``"arm"`` or ``"mobile_manipulator"``
    that skills declare they support) and implement the abstract methods.
    """

    name: str
    embodiment: str

    def connect(self) -> None:
        """Open the connection to the hardware or simulator. Idempotent."""

    def disconnect(self) -> None:
        """Release the hardware; the robot must be left stopped."""

    @abc.abstractmethod
    def get_state(self) -> RobotState:
        """Return the current state (cheap: called at the state-streaming rate)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop all motion now and hold position. Must be safe to call at any time, from any thread."""

    @abc.abstractmethod
    def skills(self) -> Sequence[SkillSpec]:
        """The skills this robot offers (decorated functions from :mod:`roboos.skills`)."""

    def get_observation(self) -> dict[str, np.ndarray]:
        """Camera frames and other arrays, keyed by name (``{}`` when the robot has no cameras)."""
        return {}

    def profile(self) -> dict[str, Any]:
        """Static facts sent to the cloud at registration (embodiment, limits, cameras...)."""
        return {"name": self.name, "embodiment": self.embodiment}
