"""A robot's skill registry: name -> :class:`SkillSpec`, with validated, time-limited calls."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from roboos.robot import Robot
from roboos.skills.errors import SkillDefinitionError, UnknownSkillError
from roboos.skills.sdk import SkillContext, SkillResult, SkillSpec, get_spec


class SkillRegistry:
    """The skills one robot offers. Registration is checked against the robot's embodiment."""

    def __init__(self, skills: Iterable[Any] = (), embodiment: str | None = None) -> None:
        self.embodiment = embodiment
        self._skills: dict[str, SkillSpec] = {}
        for item in skills:
            self.register(item)

    def register(self, item: Any) -> SkillSpec:
        """Add a decorated function (or a spec). Duplicate names and wrong embodiments are refused."""
        spec = get_spec(item)
        if spec.name in self._skills and self._skills[spec.name] is not spec:
            raise SkillDefinitionError(f"skill '{spec.name}' is already registered")
        if self.embodiment and not spec.supports(self.embodiment):
            raise SkillDefinitionError(
                f"skill '{spec.name}' supports {list(spec.embodiments)}, not embodiment '{self.embodiment}'"
            )
        self._skills[spec.name] = spec
        return spec

    def get(self, name: str) -> SkillSpec:
        """Return the named skill or raise :class:`UnknownSkillError` listing what exists."""
        try:
            return self._skills[name]
        except KeyError:
            raise UnknownSkillError(
                f"unknown skill '{name}'; this robot offers: {', '.join(sorted(self._skills)) or 'none'}",
                skill=name,
                available=sorted(self._skills),
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._skills

    def __iter__(self) -> Iterator[SkillSpec]:
        return iter(self._skills.values())

    def __len__(self) -> int:
        return len(self._skills)

    def names(self) -> list[str]:
        return sorted(self._skills)

    async def call(
        self,
        name: str,
        args: Mapping[str, Any] | None,
        *,
        robot: Robot | None = None,
        context: SkillContext | None = None,
        timeout: float | None = None,
    ) -> SkillResult:
        """Run a skill by name; unknown names and bad arguments come back as failed results."""
        try:
            spec = self.get(name)
        except UnknownSkillError as err:
            return SkillResult.failure(err)
        return await spec.run(args, robot=robot, context=context, timeout=timeout)
