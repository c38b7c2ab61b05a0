"""Robot kinds of the ROS 2 bridge for the edge registry (rclpy loads only when such a robot is built)::

robots:
  - {name: arm1, kind: ros2_household_arm, options: {trajectory_topic: /arm_controller/joint_trajectory}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roboos.edge.ros2.config import Ros2ArmOptions, Ros2HouseholdArmOptions

if TYPE_CHECKING:
    from roboos.edge.config import RobotConfig
    from roboos.edge.ros2.robot import Ros2Arm, Ros2HouseholdArm

_KINEMATIC = "roboos.sim.kinematic.factory"


def make_ros2_arm(config: RobotConfig, world: Any = None) -> Ros2Arm:
    """A generic ROS 2 arm (joint moves, poses, action chunks, configured ROS services)."""
    from roboos.edge.ros2.robot import Ros2Arm

    options = Ros2ArmOptions.model_validate(config.options)
    return Ros2Arm(config.name, options, embodiment=config.embodiment or "arm")


def make_ros2_household_arm(config: RobotConfig, world: Any) -> Ros2HouseholdArm:
    """A ROS 2 arm at its household station (``options.at``/``reach``, else the scene's robots section)."""
    from roboos.edge.ros2.robot import Ros2HouseholdArm

    from roboos.robot import RobotError

    options = Ros2HouseholdArmOptions.model_validate(config.options)
    station = world.scene.robots.get(config.name)
    at = options.at or (station.at if station is not None else world.place_names()[0])
    reach = (
        options.reach
        if options.reach is not None
        else (list(station.reach) if station and station.reach else [at])
    )
    unknown = [p for p in [at, *reach] if p not in world.place_names()]
    if unknown:
        raise RobotError(
            f"robot '{config.name}': unknown place(s) {', '.join(unknown)} in scene '{world.scene.name}'"
        )
    return Ros2HouseholdArm(
        config.name, world, options, at=at, reach=reach, embodiment=config.embodiment or "arm"
    )


def register_ros2_kinds() -> None:
    """Register ``ros2_arm`` and ``ros2_household_arm`` with :mod:`roboos.edge.robots` (idempotent)."""
    from roboos.edge.robots import register_robot_kind, robot_kinds

    known = robot_kinds()
    if "ros2_arm" not in known:
        register_robot_kind(
            "ros2_arm",
            "roboos.edge.ros2.kinds:make_ros2_arm",
            embodiment="arm",
            options=Ros2ArmOptions,
            description="an arm behind a ROS 2 joint-trajectory controller (rclpy bridge)",
        )
    if "ros2_household_arm" not in known:
        register_robot_kind(
            "ros2_household_arm",
            "roboos.edge.ros2.kinds:make_ros2_household_arm",
            embodiment="arm",
            options=Ros2HouseholdArmOptions,
            world="kinematic",
            world_factory=f"{_KINEMATIC}:make_world",
            description="a ROS 2 arm in the household scene (household skills, real motions)",
        )
