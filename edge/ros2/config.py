"""Options of the ROS 2 robot kinds (``ros2_arm``, ``ros2_household_arm``): topics, joints, QoS, rates.

Pydantic only (no rclpy), so edge configs validate on machines without ROS::

    robots:
      - name: arm1
        kind: ros2_household_arm
        options:
          joints: [shoulder_pan, shoulder_lift, elbow, wrist_1, wrist_2, wrist_3]
          trajectory_topic: /arm_controller/joint_trajectory
          ros_services:
            - {skill: home, service: /arm/home, type: std_srvs/srv/Trigger, description: Move to home}
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_JOINTS = ["joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6"]
_TOPIC = r"^~?/?[A-Za-z_][A-Za-z0-9_/]*$"
_SRV_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*/srv/[A-Z][A-Za-z0-9]*$")


class RosServiceSkill(BaseModel):
    """An existing ROS 2 service offered to RoboOS as a skill (request fields become its arguments)."""

    model_config = ConfigDict(extra="forbid")

    skill: str = Field(pattern=r"^[a-z_][a-z0-9_]*$", max_length=64)
    service: str = Field(pattern=_TOPIC)
    type: str = Field(description="service type, e.g. std_srvs/srv/SetBool")
    description: str = ""
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _check_type(self) -> RosServiceSkill:
        if not _SRV_TYPE.match(self.type):
            raise ValueError(f"type {self.type!r} is not a service type like 'std_srvs/srv/Trigger'")
        return self


class Ros2ArmOptions(BaseModel):
    """How one ROS 2 arm is reached: joint names, topics, QoS, timing and safety limits."""

    model_config = ConfigDict(extra="forbid")

    joints: list[str] = Field(default_factory=lambda: list(DEFAULT_JOINTS), min_length=1)
    joint_state_topic: str = Field(default="/joint_states", pattern=_TOPIC)
    state_qos: Literal["sensor_data", "reliable"] = "sensor_data"
    trajectory_topic: str = Field(default="/joint_trajectory_controller/joint_trajectory", pattern=_TOPIC)
    # FollowJointTrajectory (control_msgs): "auto" uses it when control_msgs imports and the server answers
    action_name: str = Field(default="/joint_trajectory_controller/follow_joint_trajectory", pattern=_TOPIC)
    use_action: Literal["auto", "never", "always"] = "auto"
    camera_topic: str | None = Field(default=None, pattern=_TOPIC)  # sensor_msgs/Image, sensor-data QoS
    camera_name: str = Field(default="base_0_rgb", pattern=r"^[A-Za-z0-9_]+$")  # observation/images/<name>
    domain_id: int | None = Field(default=None, ge=0, le=232)  # None: ROS_DOMAIN_ID from the environment
    node_name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    stale_after_s: float = Field(default=0.5, gt=0)  # joint state older than this blocks motion
    controller_wait_s: float = Field(default=2.0, ge=0)  # a motion waits this long for a controller
    goal_tolerance: float = Field(default=0.02, gt=0)  # rad (or m): reached when every joint is this close
    goal_time_tolerance_s: float = Field(default=1.0, ge=0)  # extra time allowed after the trajectory ends
    max_velocity: float = Field(default=1.0, gt=0)  # rad/s: sets durations of point-to-point moves
    min_move_s: float = Field(default=0.3, gt=0)
    position_limits: dict[str, tuple[float, float]] = Field(default_factory=dict)  # joint -> (low, high)
    command_rate_hz: float = Field(default=50.0, gt=0, le=1000)  # sampling of point-to-point moves
    policy_rate_hz: float = Field(default=50.0, gt=0, le=1000)  # time step of VLA action chunks
    blend_steps: int = Field(default=5, ge=0, le=100)  # chunk points cross-faded from the motion in progress
    # VLA per-tick actions (apply_action): the first len(joints) values, absolute targets or scaled deltas
    action_mode: Literal["absolute", "delta"] = "absolute"
    action_scale: float = Field(default=1.0, gt=0)  # multiplies delta actions
    vla_endpoint: str | None = Field(
        default=None, pattern=r"^(tcp|ipc)://\S+$"
    )  # `roboos serve policy` ZeroMQ

    poses: dict[str, list[float]] = Field(default_factory=dict)  # named joint poses ("home", place names)
    arm_motion_s: float | None = Field(
        default=None, gt=0
    )  # household: fixed time per reach (None: from velocity)
    skills_as_services: bool = True  # offer the robot's skills as ROS 2 services
    service_prefix: str | None = Field(default=None, pattern=_TOPIC)  # default: /<robot>/skills
    ros_services: list[RosServiceSkill] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Ros2ArmOptions:
        if len(set(self.joints)) != len(self.joints):
            raise ValueError("joints: duplicate joint names")
        for joint, (low, high) in self.position_limits.items():
            if joint not in self.joints:
                raise ValueError(
                    f"position_limits: unknown joint '{joint}' (joints: {', '.join(self.joints)})"
                )
            if low >= high:
                raise ValueError(f"position_limits.{joint}: low {low} must be below high {high}")
        for name, pose in self.poses.items():
            if len(pose) != len(self.joints):
                raise ValueError(f"poses.{name}: {len(pose)} values for {len(self.joints)} joints")
        skills = [s.skill for s in self.ros_services]
        if len(set(skills)) != len(skills):
            raise ValueError("ros_services: duplicate skill names")
        return self


class Ros2HouseholdArmOptions(Ros2ArmOptions):
    """A ROS 2 arm standing in the household scene: household skills (pick, place, ...) whose motions run on
    the real controller, with the scene's symbolic bookkeeping shared with the kinematic robots."""

    at: str | None = None  # station; default: the scene's robots.<name>.at
    reach: list[str] | None = None  # default: the scene's robots.<name>.reach
