"""The standard skill card: one canonical, wire-friendly description of a skill.

Built from a :class:`~roboos.skills.sdk.SkillSpec` (or from an MCP tool's input schema); sent in
``hello`` messages so the cloud knows every robot's skills, stored in the skill store and rendered for
planner prompts. Two renderings come from the same card (see :mod:`roboos.skills.render`):

* :meth:`SkillCard.tool_json` — the full JSON schema in the OpenAI tool-calling format;
* :meth:`SkillCard.compact` — one line for planner prompts, e.g.
  ``pick(object:str, force:float=0.5[0..1]) — Pick up an object within reach. [arm,mobile_manipulator]``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from roboos.skills.sdk import SkillSpec


class ParamCard(BaseModel):
    """One argument of a skill, flattened from its JSON schema."""

    name: str
    type: str  # compact type: str, int, float, bool, list[str], dict, any, ...
    description: str = ""
    required: bool = True
    default: Any = None
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False


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
    doc: str = ""  # free text of the docstring beyond the one-line purpose (not sent to planners)

    @classmethod
    def from_spec(cls, spec: SkillSpec) -> SkillCard:
        paragraphs = spec.doc.strip().split("\n\n")
        if paragraphs and " ".join(paragraphs[0].split()) == spec.description:
            paragraphs = paragraphs[1:]
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
            doc="\n\n".join(paragraphs).strip(),
        )

    def params(self) -> list[ParamCard]:
        """The arguments as flat :class:`ParamCard` records (types, defaults, enums, ranges)."""
        from roboos.skills.render import params_from_schema

        return params_from_schema(self.parameters)

    def supports(self, embodiment: str) -> bool:
        """True when the card declares no embodiments or lists this one."""
        return not self.embodiments or embodiment in self.embodiments

    def tool_json(self) -> dict[str, Any]:
        """The full rendering: an OpenAI tool-calling entry (``{"type": "function", "function": ...}``)."""
        from roboos.skills.render import tool_json

        return tool_json(self)

    def compact(self, *, embodiments: bool = True, robots: list[str] | None = None) -> str:
        """The compact one-line rendering for planner prompts (see :func:`roboos.skills.render.compact`)."""
        from roboos.skills.render import compact

        return compact(self, embodiments=embodiments, robots=robots)

    def purpose_text(self) -> str:
        """Short text for dense embeddings: the name's words and the one-line purpose."""
        return f"{self.name.replace('_', ' ')}: {self.description}"

    def search_text(self) -> str:
        """Text that retrieval indexes: name words, purpose, parameter names and docs, tags, effects."""
        words = [self.name.replace("_", " "), self.description, self.doc]
        for param in self.params():
            words.append(param.name.replace("_", " "))
            words.append(param.description)
            if param.enum:
                words.extend(str(v) for v in param.enum)
        words += self.tags + self.preconditions + self.effects
        return " ".join(w for w in words if w)
