"""Explicit world effects reported by skills.

A skill that changes the world returns them in its result value under the ``"effects"`` key, e.g.
``{"effects": [Effect(subject="object:red_cup", attribute="location", value="robot:rover1")]}``.
The cloud applies them to its world model; nothing is inferred from argument names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Effect(BaseModel):
    """One change of the world: ``subject.attribute = value``.

    ``subject`` is ``"<kind>:<name>"`` with kind ``object``, ``robot`` or ``place``. Common attributes:
    ``location`` (a place name or ``robot:<name>`` while held), ``holding``, ``open``, ``pose``.
    """

    subject: str = Field(pattern=r"^(object|robot|place):[^\s:]+$")
    attribute: str = Field(min_length=1, max_length=64)
    value: Any = None


def effects_of(value: Any) -> list[Effect]:
    """Extract and validate the effects list from a skill result value (``[]`` when none)."""
    if not isinstance(value, dict) or "effects" not in value:
        return []
    raw = value["effects"]
    if not isinstance(raw, list):
        raise ValueError("'effects' must be a list")
    return [Effect.model_validate(e) for e in raw]
