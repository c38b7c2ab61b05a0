"""Skill cards: JSON tool rendering, compact rendering with every planner-relevant fact, SkillIndex."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field
from roboos.skills import SkillDefinitionError, get_spec, skill
from roboos.skills.card import SkillCard
from roboos.skills.index import SkillIndex, version_key

from roboos.robot import Robot


@skill(embodiments=["arm", "mobile_manipulator"], version="1.2.0", preconditions=["object within reach"],
       effects=["holding the object"])
def pick(robot: Robot, object: str, force: Annotated[float, Field(ge=0, le=1)] = 0.5,
         grasp: Literal["top", "side"] = "top", note: str | None = None,
         xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> dict:
    """Pick up an object within reach.

    The arm approaches from above.

    Args:
        object: name of the object.
        force: fraction of the maximum force.
    """
    return {}


def test_card_params_and_compact() -> None:
    card = SkillCard.from_spec(get_spec(pick))
    assert card.version == "1.2.0" and card.doc == "The arm approaches from above."
    params = {p.name: p for p in card.params()}
    assert params["object"].required and params["object"].type == "str"
    assert (params["force"].minimum, params["force"].maximum, params["force"].default) == (0, 1, 0.5)
    assert params["grasp"].enum == ["top", "side"]
    text = card.compact()
    assert text.startswith("pick(object:str, force:float=0.5[0..1], grasp:{top|side}=top, note?:str, xyz:float[3]=")
    assert "— Pick up an object within reach." in text
    assert "Pre: object within reach." in text and "Effects: holding the object." in text
    assert text.endswith("[arm,mobile_manipulator]")
    assert card.compact(robots=["arm1"]).endswith("@arm1")


def test_tool_json_roundtrip() -> None:
    card = SkillCard.from_spec(get_spec(pick))
    tool = card.tool_json()
    assert tool["type"] == "function" and tool["function"]["name"] == "pick"
    assert tool["function"]["parameters"]["required"] == ["object"]
    again = SkillCard.model_validate(card.model_dump(mode="json"))
    assert again.compact() == card.compact()


def test_skill_index_hello_bye_versions() -> None:
    index = SkillIndex()
    seen = []
    index.subscribe(lambda idx: seen.append(idx.generation))
    card = SkillCard.from_spec(get_spec(pick)).model_dump(mode="json")
    newer = {**card, "version": "1.10.0"}
    index.register("arm1", "arm", [card])
    index.register("rover", "mobile_manipulator", [newer])
    assert [o.robot for o in index.robots_offering("pick")] == ["arm1", "rover"]
    assert index.cards()[0].version == "1.10.0"
    index.set_online("rover", False)
    assert index.cards()[0].version == "1.2.0" and index.embodiments() == {"arm"}
    index.unregister("arm1")
    assert index.cards() == [] and len(seen) == 4
    with pytest.raises(SkillDefinitionError):
        index.register("bad", "arm", [{"description": "no name"}])
    assert version_key("1.10.0") > version_key("1.9.2")


def test_skill_index_follows_master_registry() -> None:
    from roboos.master.registry import RobotRegistry
    from roboos.master.world import WorldModel

    registry = RobotRegistry(WorldModel())
    index = SkillIndex()
    index.follow(registry)
    card = SkillCard.from_spec(get_spec(pick)).model_dump(mode="json")
    registry.register({"robot": "arm1", "embodiment": "arm", "skills": [card]})
    assert [o.robot for o in index.robots_offering("pick")] == ["arm1"]
    registry.mark_offline("arm1", "bye")
    assert index.robots_offering("pick") == [] and index.robots_offering("pick", online_only=False)
