"""The benchmark skill library and its annotated instructions, built once per process."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from roboos.skills.benchlib import catalog_manipulation, catalog_mobility, catalog_perception
from roboos.skills.benchlib.conditions import conditions_of
from roboos.skills.benchlib.dsl import build_catalog
from roboos.skills.card import SkillCard
from roboos.skills.sdk import get_spec


class Instruction(BaseModel):
    """A task instruction annotated with the skills a correct plan needs."""

    text: str
    skills: list[str] = Field(min_length=1)


@functools.cache
def bench_skills() -> tuple[Callable[..., Any], ...]:
    """Every benchmark skill as a decorated function (manipulation, mobility, perception/interaction)."""
    funcs: list[Callable[..., Any]] = []
    for module in (catalog_manipulation, catalog_mobility, catalog_perception):
        funcs += build_catalog(module.CATALOG, conditions_of)
    names = [get_spec(f).name for f in funcs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate benchmark skills: {sorted(duplicates)}")
    return tuple(funcs)


@functools.cache
def bench_cards() -> tuple[SkillCard, ...]:
    """The cards of :func:`bench_skills`."""
    return tuple(SkillCard.from_spec(get_spec(f)) for f in bench_skills())


def load_instructions() -> list[Instruction]:
    """The annotated instructions; every named skill must exist in the library."""
    from roboos.skills.benchlib.instructions import INSTRUCTIONS

    known = {c.name for c in bench_cards()}
    out = []
    for line in INSTRUCTIONS.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        skills_text, text = (part.strip() for part in line.split("|", 1))
        skills = [s.strip() for s in skills_text.split(",") if s.strip()]
        unknown = [s for s in skills if s not in known]
        if unknown:
            raise ValueError(f"instruction {text!r} names unknown skills {unknown}")
        out.append(Instruction(text=text, skills=skills))
    return out
