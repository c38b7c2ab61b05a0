"""The standard skill card: one canonical, wire-friendly description of a skill.

Built from a :class:`~roboos.skills.sdk.SkillSpec`; sent in ``hello`` messages so the cloud knows every
robot's skills, stored in the skill store and rendered for planner prompts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from roboos.skills.sdk import SkillSpec


class SkillCard(BaseModel):
    """Everything a planner or a registry needs to know about a skill, without its code."""

    name: str
    description: str
    version: str = "1.0.0"
    embodiments: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)  # JSON schema of the arguments
    timeout_s: float = 30.0
    preconditions: list[str] = Field(default_factory=list)
    effects: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: SkillSpec) -> SkillCard:
        return cls(
            name=spec.name,
            description=spec.description,
            version=spec.version,
            embodiments=list(spec.embodiments),
            parameters=spec.json_schema(),
            timeout_s=spec.timeout,
            preconditions=list(spec.preconditions),
            effects=list(spec.effects),
            tags=list(spec.tags),
        )
