"""The cloud master: robot registry, task intake, planning, execution and task event streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from roboos.master.config import CloudConfig
from roboos.master.models import RobotInfo, TaskEvent, TaskRecord

if TYPE_CHECKING:
    from roboos.channel import CloudChannel
    from roboos.master.planning import Planner


class Master:
    """Owns the CloudChannel, the robot registry, the world model and the tasks."""

    channel: CloudChannel

    def __init__(self, config: CloudConfig, *, planner: Planner | None = None) -> None:
        raise NotImplementedError  # implementation lands in the next commit

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, instruction: str, *, task_id: str | None = None) -> str: ...

    def watch(self, task_id: str) -> AsyncIterator[TaskEvent]: ...

    async def cancel(self, task_id: str) -> bool: ...

    async def wait(self, task_id: str, timeout: float | None = None) -> TaskRecord: ...

    def get_task(self, task_id: str) -> TaskRecord: ...

    def list_tasks(self) -> list[TaskRecord]: ...

    def list_robots(self) -> list[RobotInfo]: ...
