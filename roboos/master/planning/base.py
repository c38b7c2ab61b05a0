"""The ``Planner`` protocol and the request a planner receives."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from roboos.master.models import Plan, RobotInfo, Step


class PlanRequest(BaseModel):
    """What a planner gets: the instruction, the robots it may use, the world and, on replans, the failure.

    ``robots`` holds only robots that are online now. On a replan, ``previous_plan`` carries the step
    statuses so far (done steps are ``succeeded``), ``failed_step`` and ``error`` say what went wrong,
    and ``world`` already reflects every effect reported by the steps that ran.
    """

    instruction: str
    robots: list[RobotInfo] = Field(default_factory=list)
    world: dict[str, Any] = Field(default_factory=dict)
    task_id: str = ""
    replan: int = 0  # 0 for the first plan, then 1, 2, ...
    previous_plan: Plan | None = None
    failed_step: Step | None = None
    error: dict[str, Any] | None = None
    history: list[str] = Field(default_factory=list)  # recent, human-readable task history lines

    def robot(self, name: str) -> RobotInfo | None:
        """The online robot of that name, or ``None``."""
        return next((r for r in self.robots if r.name == name), None)


@runtime_checkable
class Planner(Protocol):
    """Turns a :class:`PlanRequest` into a validated :class:`Plan` (a DAG of skill calls)."""

    name: str

    async def plan(self, request: PlanRequest) -> Plan:
        """Return a plan or raise :class:`~roboos.master.models.PlanningError` saying why not."""
        ...
