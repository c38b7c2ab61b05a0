"""``HouseholdRobot``: the Robot seam of simulated household/tabletop manipulators.

A backend (the kinematic world, MuJoCo physics) implements the few motion primitives below; the skills
in :mod:`roboos.sim.household.skills` call them, so every backend offers the same typed skills with the
same effects. Each primitive runs in a worker thread, must poll ``context.cancel_event`` while it moves,
honour :meth:`Robot.stop`, and return ``{"effects": [...], ...}`` (:class:`~roboos.skills.effects.Effect`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from roboos.robot import Robot
from roboos.skills.sdk import SkillContext, SkillSpec


class HouseholdRobot(Robot):
    """A manipulator in a scene of named places and objects; ``mobile`` robots can also navigate."""

    mobile: bool = False

    @abc.abstractmethod
    def scene_places(self) -> list[str]:
        """Names of the scene's places (they become the enum of place arguments)."""

    @abc.abstractmethod
    def scene_objects(self) -> list[str]:
        """Names of the scene's objects (they become the enum of object arguments)."""

    @abc.abstractmethod
    def do_pick(self, obj: str, context: SkillContext) -> dict[str, Any]:
        """Grasp ``obj`` and lift it."""

    @abc.abstractmethod
    def do_place(self, target: str, context: SkillContext) -> dict[str, Any]:
        """Put the held object on/in ``target``."""

    @abc.abstractmethod
    def do_gripper(self, closed: bool, context: SkillContext) -> dict[str, Any]:
        """Open or close the gripper (opening drops what it holds)."""

    @abc.abstractmethod
    def do_container(self, container: str, open_: bool, context: SkillContext) -> dict[str, Any]:
        """Open or close an openable container (fridge, drawer)."""

    @abc.abstractmethod
    def do_scan(self, context: SkillContext) -> dict[str, Any]:
        """Look at the reachable places and report the objects seen there."""

    def do_navigate(self, target: str, context: SkillContext) -> dict[str, Any]:
        """Drive the base to ``target`` (mobile robots only)."""
        raise NotImplementedError(f"{self.name} is not mobile")

    def skills(self) -> Sequence[SkillSpec]:
        from roboos.sim.household.skills import household_skills

        return household_skills(self.embodiment, self.scene_places(), self.scene_objects(), mobile=self.mobile)
