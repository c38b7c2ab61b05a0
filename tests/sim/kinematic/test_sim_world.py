"""The kinematic world: scene loading, relations, checks with clear errors, effects, failure injection."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from roboos.config import ConfigError
from roboos.robot import RobotError
from roboos.sim.kinematic.scene import load_scene
from roboos.sim.kinematic.world import InjectedFailure, World
from roboos.skills.effects import effects_of


def test_default_scene_loads_with_several_objects_and_places() -> None:
    scene = load_scene()
    assert scene.name == "household"
    kinds = {p.kind.value for p in scene.places}
    assert kinds == {"surface", "container", "station"}
    assert {"red_cup", "blue_cup", "apple", "sponge", "book"} <= {o.name for o in scene.objects}
    assert any(p.openable and not p.open for p in scene.places)
    assert scene.robots["arm1"].reach == ["workbench", "shelf", "bin"]


def test_relations_on_in_and_held(world: World, rover) -> None:
    assert world.relation("red_cup") == ("on", "kitchen_counter")
    assert world.relation("milk") == ("in", "fridge")
    world.set_pose("rover1", rover.get_state().pose, "kitchen_counter")
    world.commit_pick("rover1", "red_cup")
    assert world.relation("red_cup") == ("held_by", "rover1")
    assert world.describe("apple") == {"name": "apple", "kind": "fruit", "color": "red", "relation": "on",
                                       "where": "kitchen_counter"}


def test_pick_and_place_report_effects(world: World, arm) -> None:
    effects = world.commit_pick("arm1", "screwdriver")
    assert [(e.subject, e.attribute, e.value) for e in effects] == [
        ("object:screwdriver", "location", "robot:arm1"), ("robot:arm1", "holding", "screwdriver")]
    effects = world.commit_place("arm1", "shelf")
    assert effects_of({"effects": [e.model_dump() for e in effects]})[0].value == "shelf"
    assert world.location_of("screwdriver") == "shelf"
    assert world.body("arm1").holding is None


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ([], lambda w: w.check_pick("arm1", "apple"), "'kitchen_counter' is out of reach (arm1 reaches workbench"),
        ([("pick", "toy_block")], lambda w: w.check_pick("arm1", "screwdriver"), "gripper is already full"),
        ([], lambda w: w.check_place("arm1", "shelf"), "arm1 holds nothing to place"),
        ([], lambda w: w.check_pick("rover1", "apple"), "it is at 'dock', not at 'kitchen_counter'; navigate"),
        ([], lambda w: w.check_open("arm1", "workbench", True), "'workbench' cannot be opened or closed"),
        ([], lambda w: w.check_pick("arm1", "unicorn"), "unknown object 'unicorn'"),
        ([], lambda w: w.check_place("ghost", "shelf"), "robot 'ghost' is not in the world"),
    ],
)
def test_refusals_explain_themselves(world: World, arm, rover, setup, action, message) -> None:
    for verb, obj in setup:
        getattr(world, f"commit_{verb}")("arm1", obj)
    with pytest.raises(RobotError, match=message.replace("(", r"\(").replace(")", r"\)")):
        action(world)


def test_closed_container_must_be_opened(world: World, rover) -> None:
    world.set_pose("rover1", rover.get_state().pose, "fridge")
    with pytest.raises(RobotError, match="'fridge' is closed; open it first"):
        world.check_pick("rover1", "milk")
    assert world.commit_open("rover1", "fridge", True)[0].model_dump() == {
        "subject": "place:fridge", "attribute": "open", "value": True}
    with pytest.raises(RobotError, match="already open"):
        world.check_open("rover1", "fridge", True)
    world.commit_pick("rover1", "milk")
    with pytest.raises(RobotError, match="needs a free gripper to close 'fridge'"):
        world.check_open("rover1", "fridge", False)


def test_capacity_and_stations(world: World, arm, rover) -> None:
    world.set_pose("rover1", rover.get_state().pose, "dock")
    world.set_pose("rover1", rover.get_state().pose, "kitchen_counter")
    world.commit_pick("rover1", "apple")
    world.set_pose("rover1", rover.get_state().pose, "dock")
    with pytest.raises(RobotError, match="'dock' is a station"):
        world.check_place("rover1", "dock")


def test_opening_the_gripper_drops_the_object_where_the_robot_is(world: World, arm) -> None:
    world.commit_pick("arm1", "toy_block")
    effects = world.set_gripper("arm1", False)
    assert ("object:toy_block", "location", "workbench") in [(e.subject, e.attribute, e.value) for e in effects]
    assert world.body("arm1").holding is None


def test_two_robots_racing_for_one_object_only_one_gets_it(world: World, arm, rover) -> None:
    world.set_pose("rover1", rover.get_state().pose, "workbench")
    barrier, results = threading.Barrier(2), {}

    def grab(robot: str) -> None:
        barrier.wait()
        try:
            world.commit_pick(robot, "screwdriver")
            results[robot] = "ok"
        except RobotError as exc:
            results[robot] = str(exc)

    threads = [threading.Thread(target=grab, args=(r,)) for r in ("arm1", "rover1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(results.values()).count("ok") == 1
    loser = next(v for v in results.values() if v != "ok")
    assert "is held by" in loser


def test_injected_failures_are_consumed_and_change_nothing(world: World, arm) -> None:
    world.inject_failure("pick", times=2, robot="arm1", message="the gripper slipped")
    before = world.snapshot()
    for _ in range(2):
        with pytest.raises(InjectedFailure, match="arm1: the gripper slipped"):
            world.take_failure("pick", "arm1")
    world.take_failure("pick", "arm1")  # consumed: no more failures
    world.take_failure("pick", "rover1")
    assert world.snapshot() == before
    world.inject_failure("place")
    assert world.pending_failures() == {"place": 1}
    with pytest.raises(ValueError):
        world.inject_failure("place", times=0)


def test_reset_restores_the_scene(world: World, arm) -> None:
    initial = world.snapshot()
    world.commit_pick("arm1", "toy_block")
    world.commit_place("arm1", "bin")
    assert world.snapshot() != initial
    world.reset()
    assert world.snapshot() == initial


def test_world_is_deterministic() -> None:
    def run() -> dict:
        w = World.from_file(time_scale=0)
        w.add_robot("arm1", "arm", at="workbench", reach=["workbench", "shelf"])
        w.commit_pick("arm1", "toy_block")
        w.commit_place("arm1", "shelf")
        return w.snapshot()

    assert run() == run()


BAD_SCENES = [
    ("places: []\n", "places: List should have at least 1 item"),
    ("places: [{name: table}]\nobjects: [{name: cup, kind: cup, location: garage}]\n",
     "objects.0.location: unknown place 'garage' (places: table)"),
    ("places: [{name: table}, {name: table}]\n", "places.1.name: duplicate name 'table'"),
    ("places: [{name: dock, kind: station}]\nobjects: [{name: cup, kind: cup, location: dock}]\n",
     "objects.0.location: 'dock' is a station and holds no objects"),
    ("places: [{name: table, openable: true}]\n", "places.0: Value error, only containers can be openable"),
    ("places: [{name: box, kind: container, capacity: 1}]\nobjects: [{name: a, kind: x, location: box},"
     " {name: b, kind: x, location: box}]\n", "objects.1.location: place 'box' is over its capacity of 1"),
    ("places: [{name: table}]\nrobots: {arm: {at: table, reach: [moon]}}\n",
     "robots.arm.reach: unknown place 'moon'"),
    ("places: [{name: Table}]\n", "places.0.name: String should match pattern"),
    ("places: [{name: table, colour: red}]\n", "places.0.colour: Extra inputs are not permitted"),
    ("places: [{name: table\n", "invalid YAML"),
    ("time_scale: -1\nplaces: [{name: table}]\n", "time_scale: Input should be greater than or equal to 0"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SCENES)
def test_bad_scene_errors_name_file_key_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scene.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scene(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_scene_overrides(tmp_path: Path) -> None:
    scene = load_scene(None, ["time_scale=0", "objects.0.color=purple"])
    assert scene.time_scale == 0 and scene.objects[0].color == "purple"
