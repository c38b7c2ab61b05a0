"""The @skill decorator: schema from type hints and docstrings, validation, failures, timeouts."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

import pytest
from pydantic import Field
from roboos.skills import (
    SkillContext,
    SkillDefinitionError,
    SkillRegistry,
    get_spec,
    skill,
)
from roboos.skills.card import SkillCard
from roboos.skills.docstrings import parse_docstring
from roboos.skills.effects import Effect, effects_of

from roboos.robot import Robot, RobotState


class _Arm(Robot):
    name = "arm1"
    embodiment = "arm"

    def __init__(self) -> None:
        self.stopped = False

    def get_state(self) -> RobotState:
        return RobotState(robot=self.name, embodiment=self.embodiment)

    def stop(self) -> None:
        self.stopped = True

    def skills(self):
        return [pick]


@skill(embodiments=["arm"], timeout=2, effects=["object location becomes the gripper"])
def pick(robot: Robot, object: str, force: Annotated[float, Field(ge=0, le=1)] = 0.5) -> dict:
    """Pick up an object within reach.

    The arm approaches from above.

    Args:
        object: name of the object, as in the scene.
        force: fraction of the
            gripper's maximum force.
    """
    return {"robot": robot.name, "object": object,
            "effects": [Effect(subject=f"object:{object}", attribute="location", value=f"robot:{robot.name}")]}


@skill(timeout=0.2)
async def slow(ctx: SkillContext, seconds: float) -> str:
    """Sleep (async) for a while."""
    await asyncio.sleep(seconds)
    return "done"


@skill(timeout=0.2)
def slow_sync(ctx: SkillContext, seconds: float) -> str:
    """Sleep (in a thread), polling for cancellation."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.check_cancelled()
        time.sleep(0.01)
    return "done"


@skill
def broken(where: Literal["here", "there"]) -> None:
    """Always fails."""
    raise RuntimeError(f"gripper jammed {where}")


def test_schema_from_hints_and_docstring() -> None:
    spec = get_spec(pick)
    assert spec.description == "Pick up an object within reach."
    schema = spec.json_schema()
    assert schema["required"] == ["object"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert set(props) == {"object", "force"}  # the injected robot is not an argument
    assert props["force"] == {
        "type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
        "description": "fraction of the gripper's maximum force.",
    }
    assert spec.injected == {"robot": "robot"}
    assert spec.embodiments == ("arm",) and spec.timeout == 2


def test_card_round_trips_through_json() -> None:
    card = SkillCard.from_spec(get_spec(pick))
    again = SkillCard.model_validate_json(card.model_dump_json())
    assert again == card and again.parameters["properties"]["object"]["type"] == "string"


def test_successful_call_injects_robot_and_reports_effects() -> None:
    robot = _Arm()
    result = asyncio.run(get_spec(pick).run({"object": "red_cup"}, robot=robot))
    assert result.ok, result.error
    assert result.value["robot"] == "arm1"
    assert effects_of(result.value) == [Effect(subject="object:red_cup", attribute="location", value="robot:arm1")]


@pytest.mark.parametrize(
    ("args", "bad"),
    [({}, "object"), ({"object": "cup", "force": 2.0}, "force"), ({"object": "cup", "speed": 1}, "speed"),
     ({"object": ["not", "a", "string"]}, "object")],
)
def test_bad_arguments_name_the_argument(args: dict, bad: str) -> None:
    result = asyncio.run(get_spec(pick).run(args, robot=_Arm()))
    assert not result.ok
    assert result.error["code"] == "bad_arguments"
    assert bad in [e["arg"] for e in result.error["details"]["errors"]]
    assert f"'{bad}'" in result.error["message"]


def test_non_mapping_arguments_are_refused() -> None:
    result = asyncio.run(get_spec(pick).run(["red_cup"], robot=_Arm()))  # type: ignore[arg-type]
    assert not result.ok and result.error["code"] == "bad_arguments"


def test_exception_becomes_failure_result() -> None:
    result = asyncio.run(get_spec(broken).run({"where": "here"}))
    assert not result.ok
    assert result.error["code"] == "skill_failed"
    assert "gripper jammed here" in result.error["message"]


@pytest.mark.parametrize("fn", [slow, slow_sync])
def test_timeout_cancels_and_reports(fn) -> None:
    ctx = SkillContext(call_id="c1")
    result = asyncio.run(get_spec(fn).run({"seconds": 5}, context=ctx))
    assert not result.ok and result.error["code"] == "timeout"
    assert ctx.cancelled
    assert result.duration_s < 2


def test_definition_errors() -> None:
    with pytest.raises(SkillDefinitionError, match="'x' has no type hint"):

        @skill
        def untyped(x):  # type: ignore[no-untyped-def]
            """No hints."""

    with pytest.raises(SkillDefinitionError, match=r"\*args"):

        @skill
        def variadic(*xs: int) -> None:
            """Variadic."""


def test_registry_unknown_skill_and_embodiment_check() -> None:
    registry = SkillRegistry([pick], embodiment="arm")
    result = asyncio.run(registry.call("wave", {}, robot=_Arm()))
    assert not result.ok and result.error["code"] == "unknown_skill"
    assert "pick" in result.error["message"]
    with pytest.raises(SkillDefinitionError, match="embodiment"):
        SkillRegistry([pick], embodiment="humanoid")


def test_docstring_parser_handles_sections_and_continuations() -> None:
    summary, body, params = parse_docstring(pick.__doc__)
    assert summary == "Pick up an object within reach."
    assert "approaches from above" in body
    assert params == {"object": "name of the object, as in the scene.",
                      "force": "fraction of the gripper's maximum force."}
    assert parse_docstring(None) == ("", "", {})
