"""Task and suite models (YAML), seeded episode sampling.

A task names its scene, the object *slots* it needs (each sampled from kinds, colours and start places),
an instruction template over the slots (``"put the {target} in the bin"`` -> ``"put the red cube in the
bin"``), drawer start states, a list of success predicates and a time limit in simulated seconds::

    - name: put_in_bin
      tier: 1
      scene: tabletop
      instruction: put the {target} in the bin
      objects:
        target: {kind: [cube, can], color: [red, blue], at: [table]}
      distractors: 1
      success: [{inside: [target, bin]}]
      time_limit_s: 40

Suites live in ``sim/tasks/suites/<name>.yaml``; :func:`load_suite` validates them with errors naming
file, key and problem. The same (task, seed) always samples the same episode.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from roboos.config import KeyedConfigError, load_config
from roboos.sim.mujoco.mjcf import COLORS, SHAPES
from roboos.sim.mujoco.scenes import LAYOUTS, ObjectSpec, get_layout

DISTRACTOR_KINDS = ("cube", "block", "can", "cup")  # shapes that stand still (no balls rolling away)
PREDICATES = ("on_surface", "inside", "held", "open", "closed", "near", "lifted")
Slot = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectSlot(_Model):
    """How one object of a task is sampled."""

    kind: list[str] = Field(min_length=1)
    color: list[str] = Field(min_length=1)
    at: list[str] = Field(min_length=1)  # start places (one is chosen)


class TaskSpec(_Model):
    name: Slot
    tier: Literal[1, 2, 3]
    scene: str
    instruction: str = Field(min_length=1)
    objects: dict[Slot, ObjectSlot] = Field(default_factory=dict)
    distractors: int = Field(default=0, ge=0, le=6)
    drawers: dict[str, Literal["open", "closed"]] = Field(default_factory=dict)
    success: list[dict[Any, Any]] = Field(min_length=1)
    time_limit_s: float = Field(default=60.0, gt=0)
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        if self.scene not in LAYOUTS:
            raise KeyedConfigError("scene", f"unknown scene '{self.scene}' (scenes: {', '.join(LAYOUTS)})")
        layout = get_layout(self.scene)
        places = {p.name: p for p in layout.places}
        for slot, spec in self.objects.items():
            for kind in spec.kind:
                if kind not in SHAPES:
                    raise KeyedConfigError(f"objects.{slot}.kind", f"unknown kind '{kind}' ({', '.join(SHAPES)})")
            for color in spec.color:
                if color not in COLORS:
                    raise KeyedConfigError(f"objects.{slot}.color", f"unknown colour '{color}'")
            for place in spec.at:
                if place not in places or places[place].kind == "station":
                    raise KeyedConfigError(f"objects.{slot}.at", f"'{place}' is not a place objects can start at "
                                                                 f"in '{self.scene}'")
        for place in self.drawers:
            if place not in places or not places[place].openable:
                raise KeyedConfigError(f"drawers.{place}", f"'{place}' is not an openable place of '{self.scene}'")
        try:
            self.instruction.format(**{s: s for s in self.objects})
        except (KeyError, IndexError) as exc:
            raise KeyedConfigError("instruction", f"placeholder {exc} is not an object slot") from None
        for i, pred in enumerate(self.success):
            _check_predicate(pred, self.objects, places, f"success.{i}")
        return self


class SuiteSpec(_Model):
    name: Slot
    description: str = ""
    tasks: list[TaskSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> SuiteSpec:
        seen: set[str] = set()
        for i, task in enumerate(self.tasks):
            if task.name in seen:
                raise KeyedConfigError(f"tasks.{i}.name", f"duplicate task name '{task.name}'")
            seen.add(task.name)
        return self

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task '{name}' in suite '{self.name}'")


def _check_predicate(pred: dict[str, Any], slots: dict[str, ObjectSlot], places: dict[str, Any], key: str) -> None:
    if len(pred) != 1 or next(iter(pred)) not in PREDICATES:
        got = ", ".join(repr(k) for k in pred)
        hint = " (YAML reads a bare on/off/yes/no key as a boolean)" if any(isinstance(k, bool) for k in pred) else ""
        raise KeyedConfigError(key, f"a predicate is one of {', '.join(PREDICATES)} (got {got}){hint}")
    (name, arg), = pred.items()
    args = arg if isinstance(arg, list) else [arg]
    shapes = {"on_surface": "op", "inside": "op", "held": "o", "open": "p", "closed": "p", "near": "oon", "lifted": "on"}
    shape = shapes[name]
    if len(args) != len(shape):
        raise KeyedConfigError(f"{key}.{name}", f"expects {len(shape)} argument(s), got {len(args)}")
    for value, kind in zip(args, shape):
        if kind == "o" and value not in slots:
            raise KeyedConfigError(f"{key}.{name}", f"'{value}' is not an object slot")
        if kind == "p" and value not in places:
            raise KeyedConfigError(f"{key}.{name}", f"'{value}' is not a place")
        if kind == "n" and not isinstance(value, (int, float)):
            raise KeyedConfigError(f"{key}.{name}", f"'{value}' is not a number")


@dataclass(frozen=True)
class Episode:
    """A sampled episode of a task: concrete objects, where they start, the instruction."""

    task: TaskSpec
    seed: int
    objects: tuple[ObjectSpec, ...]
    placements: dict[str, str]
    bindings: dict[str, str]  # slot -> object name
    instruction: str
    drawers: dict[str, float]


def sample_episode(task: TaskSpec, seed: int) -> Episode:
    """Sample objects, colours and start places of a task, deterministically from ``seed``."""
    rng = np.random.default_rng([zlib.crc32(task.name.encode()), int(seed)])
    used: set[tuple[str, str]] = set()
    objects, placements, bindings, phrases = [], {}, {}, {}
    for slot, spec in task.objects.items():
        choices = [(k, c) for k in spec.kind for c in spec.color if (k, c) not in used]
        if not choices:
            raise ValueError(f"task '{task.name}': slot '{slot}' has no unused kind/colour left")
        kind, color = choices[int(rng.integers(len(choices)))]
        used.add((kind, color))
        name = f"{color}_{kind}"
        objects.append(ObjectSpec(name, kind, color))
        placements[name] = spec.at[int(rng.integers(len(spec.at)))]
        bindings[slot] = name
        phrases[slot] = f"{color} {kind}"
    spawn = [p.name for p in get_layout(task.scene).places if p.spawn]
    taken_colors = {c for _, c in used}
    for _ in range(task.distractors):  # distractors never share a colour with a slot object (no ambiguity)
        choices = [(k, c) for k in DISTRACTOR_KINDS for c in COLORS if c not in taken_colors and (k, c) not in used]
        kind, color = choices[int(rng.integers(len(choices)))]
        used.add((kind, color))
        name = f"{color}_{kind}"
        objects.append(ObjectSpec(name, kind, color))
        placements[name] = spawn[int(rng.integers(len(spawn)))]
    drawers = {place: (1.0 if state == "open" else 0.0) for place, state in task.drawers.items()}
    return Episode(task=task, seed=int(seed), objects=tuple(objects), placements=placements, bindings=bindings,
                   instruction=task.instruction.format(**phrases), drawers=drawers)


def suites_dir() -> Path:
    return Path(str(resources.files("roboos.sim.tasks").joinpath("suites")))


def available_suites() -> list[str]:
    return sorted(p.stem for p in suites_dir().glob("*.yaml"))


def load_suite(name_or_path: str | Path) -> SuiteSpec:
    """Load a suite by name (``sim/tasks/suites/<name>.yaml``) or from a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = suites_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            raise KeyError(f"unknown suite '{name_or_path}'; suites: {', '.join(available_suites())}")
    return load_config(SuiteSpec, path)
