"""Typed bodies of the data-plane messages (validated on receipt with pydantic).

The envelope codec (:mod:`roboos.protocol.envelope`) guarantees only structure; these models give each
message type its fields. Receivers validate with ``Model.model_validate(env.body)`` and answer a
``pydantic.ValidationError`` with an ``error`` message (code ``bad_body``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class EventBody(_Body):
    kind: str = Field(min_length=1, max_length=64)  # e.g. "watchdog_stop", "reconnected"
    data: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(_Body):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ByeBody(_Body):
    reason: str = ""
