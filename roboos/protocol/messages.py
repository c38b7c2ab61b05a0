"""Typed bodies of the data-plane messages (validated on receipt with pydantic).

The envelope codec (:mod:`roboos.protocol.envelope`) guarantees only structure; these models give each
message type its fields. Receivers validate with ``Model.model_validate(env.body)`` and answer a
``pydantic.ValidationError`` with an ``error`` message (code ``bad_body``).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainValidator


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class HelloBody(_Body):
    """edge -> cloud: register a robot and the skills it offers."""

    robot: str = Field(min_length=1, max_length=128)
    embodiment: str = Field(min_length=1, max_length=64)
    profile: dict[str, Any] = Field(default_factory=dict)
    skills: list[dict[str, Any]] = Field(default_factory=list)  # SkillCard.model_dump() of each skill
    agent_version: str = ""
    session: str = ""  # the edge agent's run id; a new value after a restart


class WelcomeBody(_Body):
    """cloud -> edge: registration accepted."""

    cloud: str = ""
    heartbeat_interval_s: float = 0.5
    heartbeat_timeout_s: float = 2.0
    cloud_time_ns: int = 0


class HeartbeatBody(_Body):
    seq: int = 0
    busy: bool = False


class CallBody(_Body):
    """cloud -> edge: run one skill. The envelope id is the idempotency key of the call."""

    skill: str = Field(min_length=1, max_length=128)
    args: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0)
    task_id: str = ""
    step_id: str = ""


class CancelBody(_Body):
    call_id: str
    reason: str = ""


class ResultBody(_Body):
    """edge -> cloud: outcome of a call (a SkillResult)."""

    ok: bool
    value: Any = None
    error: dict[str, Any] | None = None
    duration_s: float = 0.0


class StateBody(_Body):
    state: dict[str, Any]  # RobotState.model_dump()
    taken_ns: int = 0  # edge clock (time.time_ns) when the snapshot was taken; 0 = unknown


MAX_CAMERAS = 8  # camera images in one OBSERVATION
MAX_IMAGE_SIDE = 1024  # pixels, either side of a streamed camera image
CAMERA_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def check_camera_image(value: Any) -> np.ndarray:
    """A streamed camera image must be a ``uint8`` array of shape H x W x 3 with 1 <= H, W <= 1024."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"a camera image must be a numpy array, got {type(value).__name__}")  # noqa: TRY004 - pydantic reports ValueError
    if value.dtype != np.uint8:
        raise ValueError(f"a camera image must be uint8, got {value.dtype}")
    if value.ndim != 3 or value.shape[2] != 3:
        raise ValueError(f"a camera image must be H x W x 3, got shape {tuple(value.shape)}")
    height, width = value.shape[:2]
    if not (1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE):
        raise ValueError(f"a camera image must be 1..{MAX_IMAGE_SIDE} px a side, got {width}x{height}")
    return value


CameraName = Annotated[str, Field(pattern=CAMERA_NAME_PATTERN)]
CameraImage = Annotated[np.ndarray, PlainValidator(check_camera_image)]


class ObservationBody(_Body):
    """edge -> cloud (fire and forget): the robot's latest camera frames, one RGB image per camera.

    The arrays travel as raw frames after the envelope (:mod:`roboos.protocol.envelope`); on receipt they
    are read-only views of those frames.
    """

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)
    images: dict[CameraName, CameraImage] = Field(min_length=1, max_length=MAX_CAMERAS)
    taken_ns: int = Field(default=0, ge=0)  # edge clock (time.time_ns) when the frames were taken
    seq: int = Field(default=0, ge=0)  # the edge's frame counter for this robot


CAMERA_DEMAND = "camera_demand"  # EventBody.kind of a cloud -> edge request for camera frames


class CameraDemandBody(_Body):
    """cloud -> edge, as ``EventBody(kind="camera_demand", data=...)``: someone is watching; stream camera
    frames for the next ``for_s`` seconds (edges with ``camera_on_demand`` stream only then)."""

    for_s: float = Field(gt=0, le=300)


class EventBody(_Body):
    kind: str = Field(min_length=1, max_length=64)  # e.g. "watchdog_stop", "reconnected"
    data: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(_Body):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ByeBody(_Body):
    reason: str = ""
