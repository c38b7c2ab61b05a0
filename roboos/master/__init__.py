"""The cloud master: registry, planners, executor. Public names are re-exported lazily."""

from __future__ import annotations

from typing import Any

from roboos.master.config import CloudConfig, load_cloud_config
from roboos.master.models import (
    MasterError,
    Plan,
    PlanningError,
    RobotInfo,
    Step,
    StepStatus,
    TaskEvent,
    TaskRecord,
    TaskStatus,
    UnknownTaskError,
)

__all__ = [
    "CloudConfig",
    "Master",
    "MasterError",
    "Plan",
    "PlanningError",
    "RobotInfo",
    "Step",
    "StepStatus",
    "TaskEvent",
    "TaskRecord",
    "TaskStatus",
    "UnknownTaskError",
    "load_cloud_config",
]


def __getattr__(name: str) -> Any:
    if name == "Master":  # imports the channel (pyzmq) only when needed
        from roboos.master.master import Master

        return Master
    raise AttributeError(name)
