"""The offline rule-based planner: parsing, robot choice, DAG shape, replans and clear failures."""

from __future__ import annotations

import asyncio

import pytest
from master_rig import household_robots, household_world

from roboos.master.models import Plan, PlanningError, Step, StepStatus
from roboos.master.planning import OFFLINE_PLANNER_NAME, OfflinePlanner, PlanRequest
from roboos.master.planning.parse import parse_instruction


def plan(instruction: str, world: dict | None = None, **kw) -> Plan:
    request = PlanRequest(instruction=instruction, robots=kw.pop("robots", None) or household_robots(),
                          world=world or household_world(), **kw)
    return asyncio.run(OfflinePlanner().plan(request))


def chain(p: Plan, robot: str) -> list[tuple[str, dict]]:
    return [(s.skill, s.args) for s in p.steps if s.robot == robot]


@pytest.mark.parametrize(("instruction", "expected"), [
    ("put the red cup on the shelf", [("move", "red_cup", "shelf")]),
    ("Please pick up the banana, then put it in the sink.", [("pick", "banana", None), ("move", "banana", "sink")]),
    ("take the milk from the fridge to the coffee table", [("move", "milk", "coffee_table")]),
    ("go to the dock and open the fridge", [("goto", None, "dock"), ("open", None, "fridge")]),
    ("bring the green book onto the dining table; close the drawer",
     [("move", "book", "dining_table"), ("close", None, "drawer")]),
])
def test_parse_instructions(instruction: str, expected: list) -> None:
    goals = parse_instruction(instruction, household_world())
    assert [(g.kind, g.object, g.place) for g in goals] == expected


@pytest.mark.parametrize(("instruction", "message"), [
    ("dance a little jig", "cannot parse 'dance a little jig'"),
    ("put the cup on the shelf", "'cup' is ambiguous, it could be any object of: blue_cup, red_cup"),
    ("put the unicorn on the shelf", "no object called 'unicorn'"),
    ("put the apple on the kitchen table", "no place called 'kitchen table'"),
    ("put it on the shelf", "'it' refers to no object"),
    ("", "empty instruction"),
])
def test_parse_failures_are_clear(instruction: str, message: str) -> None:
    with pytest.raises(PlanningError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_instruction(instruction, household_world())


def test_demo_instruction_splits_across_robots_concurrently() -> None:
    p = plan("put the screwdriver on the shelf and bring the apple to the dining table")
    assert p.planner == OFFLINE_PLANNER_NAME
    assert chain(p, "arm1") == [("pick", {"object": "screwdriver"}), ("place", {"target": "shelf"})]
    assert chain(p, "rover1") == [("navigate", {"target": "kitchen_counter"}), ("pick", {"object": "apple"}),
                                  ("navigate", {"target": "dining_table"}), ("place", {"target": "dining_table"})]
    arm_ids = {s.id for s in p.steps if s.robot == "arm1"}
    rover_first = next(s for s in p.steps if s.robot == "rover1")
    assert not rover_first.depends_on, "independent chains on different robots have no dependency"
    assert all(not set(s.depends_on) & arm_ids for s in p.steps if s.robot == "rover1")


def test_out_of_reach_goes_to_the_mobile_manipulator_and_containers_are_opened() -> None:
    p = plan("put the red cup on the shelf and put the milk on the dining table")
    assert not chain(p, "arm1"), "the red cup is out of the arm's reach"
    skills = [s for s, _ in chain(p, "rover1")]
    assert skills == ["navigate", "pick", "navigate", "place", "navigate", "open_container", "pick", "navigate", "place"]
    open_step = next(s for s in p.steps if s.skill == "open_container")
    assert open_step.args == {"container": "fridge"}


def test_same_object_chains_are_ordered_and_satisfied_goals_skipped() -> None:
    p = plan("put the toy block in the bin and then put it on the shelf and put the book on the coffee table")
    assert chain(p, "arm1") == [("pick", {"object": "toy_block"}), ("place", {"target": "bin"}),
                                ("pick", {"object": "toy_block"}), ("place", {"target": "shelf"})]
    assert "already at the coffee_table" in p.notes


def test_a_held_object_is_placed_by_its_holder() -> None:
    world = household_world()
    world["objects"]["apple"]["location"] = "robot:rover1"
    world["robots"]["rover1"].update(location="kitchen_counter", holding="apple")
    p = plan("put the apple in the sink", world)
    assert chain(p, "rover1") == [("navigate", {"target": "sink"}), ("place", {"target": "sink"})]


def test_offline_robots_get_no_work() -> None:
    robots = household_robots(online={"arm1": False})
    p = plan("put the screwdriver on the shelf", robots=[r for r in robots if r.online])
    assert {s.robot for s in p.steps} == {"rover1"}
    with pytest.raises(PlanningError, match="no online robot with skills navigate"):
        plan("go to the dock", robots=[r for r in household_robots() if r.name == "arm1"])


def test_object_held_by_an_offline_robot_is_reported() -> None:
    world = household_world()
    world["objects"]["apple"]["location"] = "robot:rover1"
    with pytest.raises(PlanningError, match="held by robot 'rover1', which is offline"):
        plan("put the apple on the shelf", world, robots=[r for r in household_robots() if r.name == "arm1"])


def test_replan_moves_failed_work_to_another_capable_robot() -> None:
    first = plan("put the screwdriver in the bin")
    assert {s.robot for s in first.steps} == {"arm1"}
    failed = first.steps[0].model_copy(update={"status": StepStatus.failed,
                                               "error": {"code": "skill_failed", "message": "gripper slipped"}})
    again = plan("put the screwdriver in the bin", replan=1, previous_plan=first, failed_step=failed,
                 error=failed.error)
    assert {s.robot for s in again.steps} == {"rover1"}
    assert again.notes.startswith("replan 1")


def test_replan_without_alternative_keeps_the_only_robot() -> None:
    failed = Step(id="s1", robot="rover1", skill="navigate", args={"target": "sink"}, status=StepStatus.failed)
    again = plan("go to the sink", replan=1, failed_step=failed)
    assert [s.robot for s in again.steps] == ["rover1"]
