"""Motion skills of ROS 2 arms: joint moves, named poses and VLA action chunks (run through the driver)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field
from roboos.edge.ros2.driver import Ros2ArmDriver
from roboos.skills.sdk import SkillContext, SkillSpec, get_spec, skill

from roboos.robot import Robot

MAX_CHUNK_STEPS = 1000


class Ros2Driven(Robot):
    """A robot whose motions go through a :class:`~roboos.edge.ros2.driver.Ros2ArmDriver` (``self.ros``)."""

    ros: Ros2ArmDriver


@skill(timeout=60, effects=["robot.joints"], tags=["ros2", "motion"])
def move_joints(
    robot: Ros2Driven,
    positions: dict[str, float],
    context: SkillContext,
    duration_s: Annotated[float, Field(gt=0, le=60)] | None = None,
) -> dict[str, Any]:
    """Move joints to target positions along a smooth (minimum-jerk) path and wait until reached.

    Args:
        positions: target position per joint name (rad or m); joints not named keep their position.
        duration_s: time for the move; default from the configured velocity limit.
    """
    return robot.ros.move_to(positions, duration_s=duration_s, cancel=context.cancel_event)


@skill(timeout=60, effects=["robot.joints"], tags=["ros2", "motion"])
def move_to_pose(robot: Ros2Driven, pose: str, context: SkillContext) -> dict[str, Any]:
    """Move the arm to a named joint pose from the robot's configuration.

    Args:
        pose: name of the configured pose, e.g. home.
    """
    poses = robot.ros.options.poses
    if pose not in poses:
        raise ValueError(f"unknown pose '{pose}'; poses: {', '.join(poses) or 'none configured'}")
    return {"pose": pose, **robot.ros.move_to(poses[pose], cancel=context.cancel_event)}


@skill(timeout=60, effects=["robot.joints"], tags=["ros2", "motion", "vla"])
def execute_action_chunk(
    robot: Ros2Driven,
    actions: Annotated[list[list[float]], Field(min_length=1, max_length=MAX_CHUNK_STEPS)],
    context: SkillContext,
    rate_hz: Annotated[float, Field(gt=0, le=1000)] | None = None,
) -> dict[str, Any]:
    """Execute a VLA action chunk: one joint-position target per row, at the policy rate, blended smoothly
    into the motion in progress.

    Args:
        actions: T rows of joint positions, in the robot's joint order.
        rate_hz: policy rate (time between rows is 1/rate_hz); default from the configuration.
    """
    chunk = np.asarray(actions, dtype=np.float64)
    return {
        "steps": int(chunk.shape[0]),
        **robot.ros.execute_chunk(chunk, rate_hz=rate_hz, cancel=context.cancel_event),
    }


def motion_skills(poses: list[str]) -> list[SkillSpec]:
    """Motion skills of a ROS 2 arm; ``move_to_pose`` (typed with the pose names) only when poses exist."""
    from roboos.sim.household.skills import retype

    specs = [get_spec(move_joints), get_spec(execute_action_chunk)]
    if poses:
        specs.insert(1, retype(get_spec(move_to_pose), {"pose": Literal[tuple(poses)]}))
    return specs
