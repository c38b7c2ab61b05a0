"""Physics-only skills of the MuJoCo arms: move the gripper to a Cartesian pose via IK, go home.

(Not called ``move_to``: planners read ``move_to`` as a navigation skill.)
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from roboos.sim.household.skills import MANIPULATORS
from roboos.sim.mujoco.robots import MujocoArmRobot
from roboos.skills.effects import Effect
from roboos.skills.sdk import SkillContext, skill

Coordinate = Annotated[float, Field(ge=-20.0, le=20.0)]


@skill(embodiments=MANIPULATORS, timeout=30, effects=["robot.gripper_pose"], tags=["motion", "cartesian"])
def move_gripper(robot: MujocoArmRobot, x: Coordinate, y: Coordinate, z: Annotated[float, Field(ge=0.0, le=2.5)],
            context: SkillContext, yaw: Annotated[float, Field(ge=-6.3, le=6.3)] = 0.0) -> dict[str, Any]:
    """Move the gripper, pointing down, to a point in the world frame (inverse kinematics).

    Args:
        x: target x of the grip point, metres.
        y: target y of the grip point, metres.
        z: target height of the grip point, metres.
        yaw: rotation of the fingers about the vertical, radians.
    """
    with robot.activity.action("move_gripper", context):
        robot.move_to([x, y, z], yaw, context)
        reached = [round(float(v), 4) for v in robot.grip_pos()]
        return {"reached": reached, "effects": [
            Effect(subject=f"robot:{robot.name}", attribute="gripper_pose", value=reached)]}


@skill(embodiments=MANIPULATORS, timeout=20, effects=["robot.gripper_pose"], tags=["motion"])
def go_home(robot: MujocoArmRobot, context: SkillContext) -> dict[str, Any]:
    """Fold the arm back to its home pose (what it holds stays in the gripper)."""
    with robot.activity.action("go_home", context):
        robot.home(context)
        reached = [round(float(v), 4) for v in robot.grip_pos()]
        return {"reached": reached, "effects": [
            Effect(subject=f"robot:{robot.name}", attribute="gripper_pose", value=reached)]}


PHYSICS_SKILLS = (move_gripper, go_home)
