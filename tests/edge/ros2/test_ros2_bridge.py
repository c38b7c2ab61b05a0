"""The ROS 2 bridge against the test controller, over real rclpy (DDS on localhost, private domain)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from ros2_testlib import JOINTS, arm_options, wait_until
from roboos.edge.ros2.errors import ControllerUnavailableError, StaleJointStateError, UnknownJointError
from roboos.skills.sdk import SkillContext


def run_skill(robot, name: str, args: dict, context: SkillContext | None = None):
    spec = next(s for s in robot.skills() if s.name == name)
    return asyncio.run(spec.run(args, robot=robot, context=context or SkillContext(robot=robot)))


def start_skill(robot, name: str, args: dict, context: SkillContext) -> tuple[threading.Thread, list]:
    """Run a skill in a thread; the list receives its result, or the exception that escaped."""
    out: list = []

    def target() -> None:
        try:
            out.append(run_skill(robot, name, args, context))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            out.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def test_state_maps_joint_names_and_ignores_extra_joints(arm, controller) -> None:
    state = arm.get_state()
    assert state.joints == [0.0] * 6 and state.status == "idle"
    assert state.extra["controller"] and not state.extra["stale"] and state.extra["mode"] == "topic"
    assert state.extra["joint_names"] == JOINTS


def test_move_joints_reaches_the_goal(arm, controller) -> None:
    result = run_skill(arm, "move_joints", {"positions": {"shoulder": 0.4, "elbow": -0.3}})
    assert result.ok, result.error
    assert result.value["reached"]
    assert controller.positions[0] == pytest.approx(0.4, abs=0.02)
    assert controller.positions[2] == pytest.approx(-0.3, abs=0.02)
    sent = controller.received[-1]
    assert list(sent.joint_names) == JOINTS and len(sent.points) > 2
    assert any(abs(v) > 0 for v in sent.points[len(sent.points) // 2].velocities)  # moves through, no stops


def test_move_to_pose_and_its_enum(arm, controller) -> None:
    spec = next(s for s in arm.skills() if s.name == "move_to_pose")
    assert spec.json_schema()["properties"]["pose"]["enum"] == ["home", "ready"]
    result = run_skill(arm, "move_to_pose", {"pose": "ready"})
    assert result.ok, result.error
    np.testing.assert_allclose(controller.positions, [0.3, -0.5, 0.8, 0.0, 0.2, 0.0], atol=0.02)
    bad = run_skill(arm, "move_to_pose", {"pose": "dance"})
    assert not bad.ok and bad.error["code"] == "bad_arguments"


def test_unknown_joints_are_refused(arm, controller) -> None:
    before = len(controller.received)
    result = run_skill(arm, "move_joints", {"positions": {"shoulder": 0.1, "tail": 1.0}})
    assert not result.ok and "unknown joint(s) tail" in result.error["message"]
    with pytest.raises(UnknownJointError, match="tail"):
        arm.ros.move_to({"tail": 1.0})
    assert len(controller.received) == before  # nothing was sent


def test_position_limits_are_enforced(controller) -> None:
    from roboos.edge.ros2.robot import Ros2Arm

    robot = Ros2Arm("arm1", arm_options(position_limits={"shoulder": (-0.5, 0.5)}))
    robot.connect()
    try:
        wait_until(lambda: robot.ros.controller_connected() and robot.ros.state_age() is not None)
        result = run_skill(robot, "move_joints", {"positions": {"shoulder": 0.9}})
        assert not result.ok and "outside its limits" in result.error["message"]
    finally:
        robot.disconnect()


def test_stale_joint_state_blocks_motion(arm, controller) -> None:
    controller.publishing = False
    wait_until(lambda: arm.get_state().extra["stale"], what="stale state")
    assert arm.get_state().status == "error"
    before = len(controller.received)
    with pytest.raises(StaleJointStateError, match="motion blocked"):
        arm.ros.move_to({"shoulder": 0.2})
    assert len(controller.received) == before
    controller.publishing = True
    wait_until(lambda: not arm.get_state().extra["stale"], what="fresh state")
    assert run_skill(arm, "move_joints", {"positions": {"shoulder": 0.2}}).ok


def test_state_going_stale_during_a_motion_stops_it(arm, controller) -> None:
    errors: list[BaseException] = []

    def move() -> None:
        try:
            arm.ros.move_to({"shoulder": 1.5}, duration_s=2.0)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=move)
    thread.start()
    wait_until(lambda: arm.ros.moving(), what="motion start")
    controller.publishing = False
    thread.join(20)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], StaleJointStateError) and "during the motion" in str(errors[0])
    wait_until(lambda: bool(controller.received) and len(controller.received[-1].points) == 1, what="hold-position trajectory")
    controller.publishing = True


def test_stop_sends_hold_position_and_cancels_the_motion(arm, controller) -> None:
    context = SkillContext(robot=arm)
    thread, results = start_skill(
        arm, "move_joints", {"positions": {"elbow": 1.2}, "duration_s": 3.0}, context
    )
    wait_until(lambda: controller.positions[2] > 0.05, what="motion start")
    arm.stop()
    thread.join(20)
    assert not thread.is_alive()
    assert len(results) == 1 and not isinstance(results[0], BaseException), results
    assert not results[0].ok and "stopped" in results[0].error["message"]
    wait_until(lambda: bool(controller.received) and len(controller.received[-1].points) == 1, what="hold-position trajectory")
    hold = controller.received[-1]
    assert len(hold.points) == 1 and list(hold.points[0].velocities) == [0.0] * 6
    assert 0.0 < controller.positions[2] < 1.2
    assert arm.get_state().status == "stopped"


def test_cancel_of_a_skill_call_holds_position(arm, controller) -> None:
    context = SkillContext(robot=arm)
    thread, results = start_skill(
        arm, "move_joints", {"positions": {"wrist_1": 1.0}, "duration_s": 3.0}, context
    )
    wait_until(lambda: arm.ros.moving(), what="motion start")
    context.cancel_event.set()
    thread.join(20)
    assert not thread.is_alive()
    assert len(results) == 1 and not isinstance(results[0], BaseException), results
    assert not results[0].ok and results[0].error["code"] == "cancelled"
    wait_until(lambda: bool(controller.received) and len(controller.received[-1].points) == 1, what="hold-position trajectory")


def test_controller_restart(arm, controller) -> None:
    from ros2_testlib import COMMAND_TOPIC, STATE_TOPIC
    from ros2_test_controller import TestTrajectoryController

    positions = controller.positions.tolist()
    controller.close()  # the controller disappears
    wait_until(lambda: not arm.ros.controller_connected(), what="controller gone")
    with pytest.raises((ControllerUnavailableError, StaleJointStateError)):
        arm.ros.move_to({"shoulder": 0.3})
    restarted = TestTrajectoryController(
        JOINTS, command_topic=COMMAND_TOPIC, state_topic=STATE_TOPIC, initial=positions
    )
    try:
        wait_until(
            lambda: arm.ros.controller_connected() and not arm.get_state().extra["stale"],
            what="controller back",
        )
        result = run_skill(arm, "move_joints", {"positions": {"shoulder": 0.3}})
        assert result.ok, result.error
        assert restarted.positions[0] == pytest.approx(0.3, abs=0.02)
    finally:
        restarted.close()


def test_no_controller_is_a_clear_error(controller) -> None:
    from roboos.edge.ros2.robot import Ros2Arm

    robot = Ros2Arm("arm1", arm_options(trajectory_topic="/nobody/listens", controller_wait_s=0.3))
    robot.connect()
    try:
        wait_until(lambda: robot.ros.state_age() is not None, what="state")
        result = run_skill(robot, "move_joints", {"positions": {"shoulder": 0.1}})
        assert (
            not result.ok and "no trajectory controller listens on /nobody/listens" in result.error["message"]
        )
    finally:
        robot.disconnect()
