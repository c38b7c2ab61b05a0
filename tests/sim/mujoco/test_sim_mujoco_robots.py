"""MuJoCo robots: skills move the physics, report effects, fail clearly, honour cancel and stop."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from roboos.skills import SkillContext, SkillRegistry
from roboos.skills.card import SkillCard
from roboos.skills.effects import effects_of


def call(robot, name: str, context: SkillContext | None = None, timeout: float | None = None, **args):
    registry = SkillRegistry(robot.skills(), embodiment=robot.embodiment)
    return asyncio.run(registry.call(name, args, robot=robot, context=context, timeout=timeout))


def test_arm_reach_and_typed_skill_cards(tabletop) -> None:
    world, arm = tabletop
    assert arm.reach() == ["table", "plate", "bin", "drawer"]
    cards = {s.name: SkillCard.from_spec(s) for s in arm.skills()}
    assert "navigate" not in cards
    assert cards["place"].parameters["properties"]["target"]["enum"] == ["table", "plate", "bin", "drawer"]
    assert cards["pick"].parameters["properties"]["object"]["enum"] == ["red_cube", "blue_can", "green_block"]


def test_pick_and_place_move_the_object_physically(tabletop) -> None:
    world, arm = tabletop
    start = world.object_pos("red_cube")
    picked = call(arm, "pick", object="red_cube")
    assert picked.ok, picked.error
    assert effects_of(picked.value)[0].value == "robot:arm1"
    assert world.object_pos("red_cube")[2] > start[2] + 0.05  # lifted by the physics
    placed = call(arm, "place", target="bin")
    assert placed.ok, placed.error
    assert world.location_of("red_cube") == "bin" and arm.holding() is None
    assert np.hypot(*(world.object_pos("red_cube")[:2] - np.array([0.38, -0.36]))) < 0.08
    state = arm.get_state()
    assert len(state.joints) == 7 and state.holding is None and state.extra["gripper"] == "open"


def test_drawer_open_place_close(tabletop) -> None:
    world, arm = tabletop
    assert call(arm, "pick", object="blue_can").ok
    refused = call(arm, "place", target="drawer")
    assert "'drawer' is closed; open it first" in refused.error["message"]
    assert "needs a free gripper" in call(arm, "open_container", container="drawer").error["message"]
    assert call(arm, "place", target="table").ok
    opened = call(arm, "open_container", container="drawer")
    assert opened.ok, opened.error
    assert world.is_open("drawer")
    assert call(arm, "pick", object="blue_can").ok and call(arm, "place", target="drawer").ok
    closed = call(arm, "close_container", container="drawer")
    assert closed.ok, closed.error
    assert world.is_closed("drawer") and world.location_of("blue_can") == "drawer"
    assert "already closed" in call(arm, "close_container", container="drawer").error["message"]


def test_failures_are_clear(tabletop) -> None:
    world, arm = tabletop
    assert call(arm, "pick", object="red_cube").ok
    assert "already full" in call(arm, "pick", object="blue_can").error["message"]
    assert call(arm, "place", target="floor").error["code"] == "bad_arguments"  # not a place of the scene
    assert "no free spot within reach on/in 'plate'" in call(arm, "place", target="plate").error["message"]
    arm.failures["place"] = 1
    assert "injected failure of 'place'" in call(arm, "place", target="bin").error["message"]
    assert call(arm, "place", target="bin").ok


def test_cancel_and_stop_interrupt_motions(tabletop) -> None:
    world, arm = tabletop
    world.realtime = True  # slow the physics to wall-clock speed so there is time to interrupt
    context = SkillContext(robot=arm, call_id="c1")
    threading.Timer(0.3, context.cancel_event.set).start()
    cancelled = call(arm, "pick", object="red_cube", context=context)
    assert cancelled.error["code"] == "cancelled"
    assert arm.holding() is None
    threading.Timer(0.3, arm.stop).start()
    stopped = call(arm, "pick", object="red_cube")
    assert "arm1 was stopped" in stopped.error["message"] and arm.get_state().status == "stopped"
    world.realtime = False
    assert call(arm, "pick", object="red_cube").ok


def test_mobile_manipulator_fetches_and_hands_over(household) -> None:
    world, (arm, rover) = household
    assert arm.reach() == ["workbench", "bin"] and rover.location() == "dock" and rover.reach() == []
    assert "navigate to 'counter' first" in call(rover, "pick", object="blue_can").error["message"]
    for name, args in [("navigate", {"target": "counter"}), ("pick", {"object": "blue_can"}),
                       ("navigate", {"target": "workbench"}), ("place", {"target": "workbench"})]:
        result = call(rover, name, **args)
        assert result.ok, (name, result.error)
    pose = rover.get_state().pose
    assert abs(pose.x - 1.22) < 0.05 and rover.location() == "workbench"
    assert call(arm, "pick", object="blue_can").ok and call(arm, "place", target="bin").ok
    assert world.location_of("blue_can") == "bin"


def test_edge_config_builds_mujoco_robots_sharing_one_world() -> None:
    import pytest

    from roboos.config import ConfigError, builtin_config
    from roboos.edge.config import load_edge_config
    from roboos.edge.robots import make_robots
    from roboos.robot import RobotError

    cfg = load_edge_config(builtin_config("robots/mujoco_household.yaml"), ["time_scale=0"])
    arm, rover = make_robots(cfg.robots, scene=cfg.scene, time_scale=cfg.time_scale)
    try:
        assert arm.world is rover.world and not arm.world.realtime
        assert (arm.kind, rover.kind) == ("mujoco_arm", "mujoco_mobile_manipulator")
        assert rover.profile()["mobile"] and arm.profile()["reach"] == ["workbench", "bin"]
    finally:
        arm.world.close()
    with pytest.raises(ConfigError, match="robots.1.options.speed_m_s: Input should be greater than 0"):
        load_edge_config(builtin_config("robots/mujoco_household.yaml"), ["robots.1.options.speed_m_s=0"])
    bad = load_edge_config(builtin_config("robots/mujoco_household.yaml"), ["robots.0.name=arm9"])
    with pytest.raises(RobotError, match="has no arm of that name"):
        make_robots(bad.robots, scene=bad.scene, time_scale=0)


def test_move_gripper_to_a_pose_via_ik_and_go_home(tabletop) -> None:
    world, arm = tabletop
    result = call(arm, "move_gripper", x=0.4, y=0.1, z=0.9, yaw=0.3)
    assert result.ok, result.error
    assert np.linalg.norm(np.array(result.value["reached"]) - [0.4, 0.1, 0.9]) < 0.01
    assert "no arm pose reaches" in call(arm, "move_gripper", x=3.0, y=0.0, z=0.9).error["message"]
    assert call(arm, "move_gripper", x=0.4, y=0.1, z=9.0).error["code"] == "bad_arguments"
    assert call(arm, "go_home").ok
    card = SkillCard.from_spec(next(s for s in arm.skills() if s.name == "move_gripper"))
    assert card.parameters["properties"]["z"]["maximum"] == 2.5 and card.parameters["required"] == ["x", "y", "z"]
