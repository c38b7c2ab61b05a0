"""Skill SDK: the ``@skill`` decorator, skill specs and per-robot registries (``roboos.skills``)."""

from roboos.skills.errors import (
    SkillArgumentError,
    SkillCancelledError,
    SkillDefinitionError,
    SkillError,
    SkillFailedError,
    SkillTimeoutError,
    UnknownSkillError,
)
from roboos.skills.registry import SkillRegistry
from roboos.skills.sdk import SkillContext, SkillResult, SkillSpec, get_spec, skill

__all__ = [
    "SkillArgumentError",
    "SkillCancelledError",
    "SkillContext",
    "SkillDefinitionError",
    "SkillError",
    "SkillFailedError",
    "SkillRegistry",
    "SkillResult",
    "SkillSpec",
    "SkillTimeoutError",
    "UnknownSkillError",
    "get_spec",
    "skill",
]
