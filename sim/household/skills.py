"""The household skills: thin, typed ``@skill`` functions over :class:`HouseholdRobot` primitives.

The functions below are written with ``str`` place/object parameters; :func:`household_skills` rebuilds
each one for a concrete scene with ``Literal[...]`` enums of that scene's places and objects, so skill
cards (and planner prompts) list the valid names and a wrong name is refused as a bad argument.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Literal, get_type_hints

from roboos.sim.household.base import HouseholdRobot
from roboos.skills.sdk import SkillContext, SkillSpec, build_spec, get_spec, skill

MANIPULATORS = ("arm", "mobile_manipulator")
MOBILE = ("mobile_manipulator",)


@skill(embodiments=MOBILE, timeout=120, preconditions=["robot is mobile"],
       effects=["robot.location", "robot.pose"], tags=["motion", "navigation"])
def navigate(robot: HouseholdRobot, target: str, context: SkillContext) -> dict[str, Any]:
    """Drive the mobile base to a place; whatever the robot holds travels with it.

    Args:
        target: the place to drive to.
    """
    return robot.do_navigate(target, context)


@skill(embodiments=MANIPULATORS, timeout=60, preconditions=["gripper empty", "object within reach",
       "its container open"], effects=["object.location", "robot.holding"], tags=["manipulation"])
def pick(robot: HouseholdRobot, object: str, context: SkillContext) -> dict[str, Any]:  # noqa: A002
    """Grasp an object within reach and lift it.

    Args:
        object: the object to pick up.
    """
    return robot.do_pick(object, context)


@skill(embodiments=MANIPULATORS, timeout=60, preconditions=["holding an object", "target within reach",
       "target open if a container"], effects=["object.location", "robot.holding"], tags=["manipulation"])
def place(robot: HouseholdRobot, target: str, context: SkillContext) -> dict[str, Any]:
    """Put the held object on a surface or into a container within reach.

    Args:
        target: the surface or container to put the held object on or in.
    """
    return robot.do_place(target, context)


@skill(embodiments=MANIPULATORS, timeout=20, effects=["robot.gripper", "robot.holding"], tags=["gripper"])
def open_gripper(robot: HouseholdRobot, context: SkillContext) -> dict[str, Any]:
    """Open the gripper; a held object is released where the robot is."""
    return robot.do_gripper(False, context)


@skill(embodiments=MANIPULATORS, timeout=20, effects=["robot.gripper"], tags=["gripper"])
def close_gripper(robot: HouseholdRobot, context: SkillContext) -> dict[str, Any]:
    """Close the empty gripper (to pass through tight spaces or to push)."""
    return robot.do_gripper(True, context)


@skill(embodiments=MANIPULATORS, timeout=60, preconditions=["gripper empty", "container within reach"],
       effects=["place.open"], tags=["manipulation", "articulated"])
def open_container(robot: HouseholdRobot, container: str, context: SkillContext) -> dict[str, Any]:
    """Open a closed container such as the fridge or a drawer, so things can be taken out or put in.

    Args:
        container: the openable container to open.
    """
    return robot.do_container(container, True, context)


@skill(embodiments=MANIPULATORS, timeout=60, preconditions=["gripper empty", "container within reach"],
       effects=["place.open"], tags=["manipulation", "articulated"])
def close_container(robot: HouseholdRobot, container: str, context: SkillContext) -> dict[str, Any]:
    """Close an open container such as the fridge or a drawer.

    Args:
        container: the openable container to close.
    """
    return robot.do_container(container, False, context)


@skill(embodiments=MANIPULATORS, timeout=20, effects=["object.location"], tags=["perception"])
def scan(robot: HouseholdRobot, context: SkillContext) -> dict[str, Any]:
    """Look at the places within reach and report each visible object with its kind, colour and place."""
    return robot.do_scan(context)


ALL_SKILLS: tuple[Callable[..., Any], ...] = (
    navigate, pick, place, open_gripper, close_gripper, open_container, close_container, scan,
)


def household_skills(embodiment: str, places: Sequence[str], objects: Sequence[str], *,
                     mobile: bool) -> list[SkillSpec]:
    """The skills of one robot, typed with the scene's place and object names."""
    return list(_specialised(embodiment, tuple(places), tuple(objects), mobile))


@lru_cache(maxsize=64)
def _specialised(embodiment: str, places: tuple[str, ...], objects: tuple[str, ...],
                 mobile: bool) -> tuple[SkillSpec, ...]:
    enums: dict[str, Any] = {}
    if places:
        enums["target"] = enums["container"] = Literal[places]  # type: ignore[valid-type]
    if objects:
        enums["object"] = Literal[objects]  # type: ignore[valid-type]
    out = []
    for fn in ALL_SKILLS:
        spec = get_spec(fn)
        if (fn is navigate and not mobile) or not spec.supports(embodiment):
            continue
        out.append(retype(spec, enums))
    return tuple(out)


def retype(spec: SkillSpec, hints: dict[str, Any]) -> SkillSpec:
    """Rebuild ``spec`` with some parameters' type hints replaced (same code, name and metadata)."""
    fn = spec.func
    own = get_type_hints(fn, include_extras=True)
    changes = {k: v for k, v in hints.items() if k in own and k not in spec.injected}
    if not changes:
        return spec
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__kwdefaults__ = fn.__kwdefaults__
    clone.__doc__, clone.__module__, clone.__qualname__ = fn.__doc__, fn.__module__, fn.__qualname__
    clone.__annotations__ = {**own, **changes}
    return build_spec(clone, name=spec.name, version=spec.version, embodiments=spec.embodiments,
                      timeout=spec.timeout, preconditions=spec.preconditions, effects=spec.effects,
                      tags=spec.tags)
