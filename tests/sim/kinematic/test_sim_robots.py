"""Kinematic robots through their skills: typed cards, effects, failures, cancellation, stop, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from roboos.sim.kinematic.robots import SimArm, SimMobileManipulator
from roboos.sim.kinematic.world import World
from roboos.skills import SkillContext, SkillRegistry
from roboos.skills.card import SkillCard
from roboos.skills.effects import effects_of


def call(robot, name: str, timeout: float | None = None, context: SkillContext | None = None, **args):
    registry = SkillRegistry(robot.skills(), embodiment=robot.embodiment)
    return asyncio.run(registry.call(name, args, robot=robot, context=context, timeout=timeout))


def test_skill_sets_follow_the_embodiment(arm: SimArm, rover: SimMobileManipulator) -> None:
    arm_skills = {s.name for s in arm.skills()}
    rover_skills = {s.name for s in rover.skills()}
    assert "navigate" not in arm_skills and "navigate" in rover_skills
    assert {"pick", "place", "open_gripper", "close_gripper", "open_container", "close_container",
            "scan"} <= arm_skills & rover_skills


def test_skill_cards_carry_scene_enums_and_docs(rover: SimMobileManipulator, world: World) -> None:
    cards = {s.name: SkillCard.from_spec(s) for s in rover.skills()}
    nav = cards["navigate"]
    assert nav.embodiments == ["mobile_manipulator"]
    assert nav.parameters["properties"]["target"]["enum"] == world.place_names()
    assert nav.parameters["properties"]["target"]["description"] == "the place to drive to."
    assert cards["pick"].parameters["properties"]["object"]["enum"] == world.object_names()
    assert cards["pick"].description.startswith("Grasp an object")
    assert "gripper empty" in cards["pick"].preconditions


def test_fetch_and_handoff_between_two_robots(world: World, arm: SimArm, rover: SimMobileManipulator) -> None:
    steps = [(rover, "navigate", {"target": "kitchen_counter"}), (rover, "pick", {"object": "red_cup"}),
             (rover, "navigate", {"target": "workbench"}), (rover, "place", {"target": "workbench"}),
             (arm, "pick", {"object": "red_cup"}), (arm, "place", {"target": "shelf"})]
    for robot, name, args in steps:
        result = call(robot, name, **args)
        assert result.ok, result.error
        assert effects_of(result.value)
    assert world.location_of("red_cup") == "shelf"
    assert rover.get_state().location == "workbench"


def test_failures_become_failed_results_with_clear_messages(world: World, arm: SimArm) -> None:
    result = call(arm, "pick", object="apple")
    assert not result.ok and result.error["code"] == "skill_failed"
    assert "out of reach" in result.error["message"]
    bad = call(arm, "pick", object="unicorn")
    assert bad.error["code"] == "bad_arguments" and bad.error["details"]["errors"][0]["arg"] == "object"
    assert call(arm, "pick", object="toy_block").ok
    full = call(arm, "pick", object="screwdriver")
    assert "already full" in full.error["message"]
    assert arm.get_state().extra["last_error"].startswith("pick:")


def test_container_skills(world: World, rover: SimMobileManipulator) -> None:
    assert call(rover, "navigate", target="drawer").ok
    assert "closed; open it first" in call(rover, "pick", object="spoon").error["message"]
    opened = call(rover, "open_container", container="drawer")
    assert opened.ok and opened.value["effects"] == [{"subject": "place:drawer", "attribute": "open", "value": True}]
    assert call(rover, "pick", object="spoon").ok
    assert "free gripper" in call(rover, "close_container", container="drawer").error["message"]


def test_gripper_and_scan(world: World, arm: SimArm) -> None:
    assert call(arm, "close_gripper").ok
    assert arm.get_state().extra["gripper"] == "closed"
    assert call(arm, "pick", object="toy_block").ok
    dropped = call(arm, "open_gripper")
    assert {"subject": "object:toy_block", "attribute": "location", "value": "workbench"} in dropped.value["effects"]
    seen = call(arm, "scan").value
    assert {o["name"] for o in seen["objects"]} == {"screwdriver", "toy_block", "wrench"}
    assert seen["places"] == ["workbench", "shelf", "bin"]


def test_injected_failure_then_success(world: World, arm: SimArm) -> None:
    world.inject_failure("pick", robot="arm1", message="the grasp slipped")
    failed = call(arm, "pick", object="toy_block")
    assert not failed.ok and "the grasp slipped" in failed.error["message"]
    assert world.location_of("toy_block") == "workbench"
    assert call(arm, "pick", object="toy_block").ok


def test_navigation_takes_scaled_time_and_moves_the_pose(world: World, rover: SimMobileManipulator) -> None:
    world.time_scale = 0.05  # 2 m at 1 m/s -> 0.1 s
    poses: list[tuple[float, str | None]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            state = rover.get_state()
            poses.append((state.pose.x, state.location))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = call(rover, "navigate", target="kitchen_counter")
    done.set()
    watcher.join()
    assert result.ok and result.value["distance_m"] == 2.0
    assert any(loc is None and 2.0 < x < 4.0 for x, loc in poses)  # seen between places
    assert rover.get_state().location == "kitchen_counter"


def test_cancel_stops_navigation_between_places(world: World, rover: SimMobileManipulator) -> None:
    world.time_scale = 1.0  # a 4 m drive takes 4 s: cancel it after 0.1 s
    context = SkillContext(robot=rover, call_id="c1")
    threading.Timer(0.1, context.cancel_event.set).start()
    started = time.monotonic()
    result = call(rover, "navigate", target="coffee_table", context=context)
    assert time.monotonic() - started < 2.0
    assert result.error["code"] == "cancelled"
    state = rover.get_state()
    assert state.location is None and 0 < state.pose.y < 4.0 and state.status == "idle"
    with_pose = call(rover, "pick", object="book")
    assert "between places" in with_pose.error["message"]
    world.time_scale = 0.0
    assert call(rover, "navigate", target="coffee_table").ok


def test_stop_aborts_the_running_motion(world: World, rover: SimMobileManipulator) -> None:
    world.time_scale = 1.0
    threading.Timer(0.1, rover.stop).start()
    result = call(rover, "navigate", target="coffee_table")
    assert not result.ok and "rover1 was stopped" in result.error["message"]
    assert rover.get_state().status == "stopped"
    world.time_scale = 0.0
    assert call(rover, "navigate", target="dock").ok
    assert rover.get_state().status == "idle"


def test_timeout_cancels_the_motion_and_frees_the_robot(world: World, arm: SimArm) -> None:
    world.time_scale = 2.0  # pick = 2 s of motion, timeout after 0.1 s
    result = call(arm, "pick", object="toy_block", timeout=0.1)
    assert result.error["code"] == "timeout"
    deadline = time.monotonic() + 2
    while arm.get_state().status == "busy" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert arm.get_state().status == "idle"
    assert world.location_of("toy_block") == "workbench"


def test_a_busy_robot_refuses_a_second_call(world: World, arm: SimArm) -> None:
    world.time_scale = 2.0
    first = threading.Thread(target=call, args=(arm, "pick"), kwargs={"object": "toy_block"})
    first.start()
    time.sleep(0.1)
    second = call(arm, "scan")
    arm.stop()
    first.join(5)
    assert "busy running 'pick'" in second.error["message"]


def test_state_and_profile(arm: SimArm, rover: SimMobileManipulator) -> None:
    state = arm.get_state()
    assert state.location == "workbench" and state.pose is None and len(state.joints) == 6
    assert rover.get_state().pose.x == 2.0
    assert arm.profile()["reach"] == ["workbench", "shelf", "bin"]
    assert rover.profile()["mobile"] is True
    rover.disconnect()
    with pytest.raises(Exception, match="not in the world"):
        rover.get_state()
