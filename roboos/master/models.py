"""Data models of the cloud master: tasks, plans, steps, events and the robot registry view.

These are the contract between the master, the gRPC control plane (which mirrors them in protobuf) and
the CLI. Timestamps are UNIX epoch seconds (floats); ``None`` means "not yet".
"""

from __future__ import annotations

import time
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from roboos.skills.card import SkillCard


class TaskStatus(str, Enum):
    """Life cycle of a task: pending -> planning -> running -> succeeded | failed | cancelled."""

    pending = "pending"
    planning = "planning"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        """True for succeeded, failed and cancelled."""
        return self in TERMINAL_TASK_STATUSES


TERMINAL_TASK_STATUSES = frozenset({TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled})


class StepStatus(str, Enum):
    """Life cycle of one plan step (one skill call on one robot)."""

    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        return self not in (StepStatus.pending, StepStatus.running)


class Step(BaseModel):
    """One node of a plan DAG: a skill call bound to a robot, run after the steps it depends on."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    robot: str = Field(min_length=1, max_length=128)
    skill: str = Field(min_length=1, max_length=128)
    args: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    status: StepStatus = StepStatus.pending
    attempts: int = 0
    error: dict[str, Any] | None = None  # {"code", "message", "details"} of the last failure
    result: Any = None  # the skill result value on success
    started_at: float | None = None
    finished_at: float | None = None
    call_id: str | None = None  # message id of the current call: re-sent unchanged when a task resumes


class Plan(BaseModel):
    """A DAG of steps produced by a planner, with the planner's name and token usage."""

    model_config = ConfigDict(extra="forbid")

    steps: list[Step] = Field(default_factory=list)
    planner: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: str = ""

    def step(self, step_id: str) -> Step:
        """The step with that id (``KeyError`` if absent)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


class TaskRecord(BaseModel):
    """Everything known about one task: instruction, status, current plan and the outcome."""

    id: str
    instruction: str
    status: TaskStatus = TaskStatus.pending
    plan: Plan | None = None
    reason: str = ""  # why it failed or was cancelled ("" while running and on success)
    created_at: float = Field(default_factory=time.time)
    finished_at: float | None = None
    replans: int = 0


EventKind = Literal["status", "plan", "step", "log"]


class TaskEvent(BaseModel):
    """One entry of a task's event stream (``Master.watch``): numbered from 1 per task, in order."""

    task_id: str
    seq: int
    ts: float = Field(default_factory=time.time)
    kind: EventKind
    status: TaskStatus  # the task's status when the event was emitted
    step: Step | None = None  # for kind == "step": a snapshot of the step
    plan: Plan | None = None  # for kind == "plan": the (re)plan
    message: str = ""


class RobotInfo(BaseModel):
    """The registry's view of one robot: identity, liveness, skills and last reported state."""

    name: str
    embodiment: str
    online: bool
    skills: list[SkillCard] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)  # last RobotState.model_dump() received
    heartbeat_age_s: float | None = None  # seconds since anything was heard from the robot
    profile: dict[str, Any] = Field(default_factory=dict)

    def skill(self, name: str) -> SkillCard | None:
        """The robot's skill card of that name, or ``None``."""
        for card in self.skills:
            if card.name == name:
                return card
        return None


class MasterError(RuntimeError):
    """Base class of the master's errors."""


class UnknownTaskError(MasterError, KeyError):
    """No task with that id."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"unknown task '{task_id}'")
        self.task_id = task_id

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class PlanningError(MasterError):
    """A planner could not produce a valid plan; the message says why in words a user can act on."""
