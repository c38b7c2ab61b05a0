"""Busy/stop bookkeeping shared by the simulated robots: one skill at a time, status, stop generations."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from roboos.robot import RobotError
from roboos.skills.errors import SkillCancelledError
from roboos.skills.sdk import SkillContext


class RobotActivity:
    """Tracks what a robot is doing. ``stop()`` bumps a generation that running motions poll."""

    def __init__(self, name: str, before: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.status = "idle"
        self.current: str | None = None
        self.last_error: str | None = None
        self.stop_gen = 0
        self._busy = threading.Lock()
        self._before = before  # e.g. the world's planted-failure check, called with the skill name

    @contextmanager
    def action(self, skill: str, context: SkillContext | None) -> Iterator[None]:
        """Run one skill exclusively: refuse while another runs, apply planted failures, track status."""
        if not self._busy.acquire(timeout=1.0):
            raise RobotError(f"{self.name} is busy running '{self.current}'")
        try:
            self.current, self.status, self.last_error = skill, "busy", None
            if context is not None:
                context.check_cancelled()
            if self._before is not None:
                self._before(skill)
            yield
            self.status = "idle"
        except BaseException as exc:
            self.status = "stopped" if self.status == "stopped" else "idle"
            self.last_error = f"{skill}: {exc}"
            raise
        finally:
            self.current = None
            self._busy.release()

    def stop(self) -> None:
        self.stop_gen += 1
        if self.current is not None:
            self.status = "stopped"

    def check(self, gen: int, context: SkillContext | None) -> None:
        """Raise if the call was cancelled or the robot stopped since generation ``gen``."""
        if context is not None and context.cancel_event.is_set():
            raise SkillCancelledError(f"{self.name}: motion cancelled", call_id=context.call_id)
        if self.stop_gen != gen:
            raise RobotError(f"{self.name} was stopped")
