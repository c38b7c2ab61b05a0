"""``Robot`` implementations backed by ROS 2 (robot kinds ``ros2_arm`` and ``ros2_household_arm``).

* :class:`Ros2Arm` — any arm behind a joint-trajectory controller: skills ``move_joints``,
  ``move_to_pose``, ``execute_action_chunk`` and the configured ROS services; state from ``JointState``.
* :class:`Ros2HouseholdArm` — the same arm standing in the household scene: it offers the household
  skills (pick, place, open/close a container, gripper, scan) so the cloud's planners can use it next to
  the simulated robots; each reach runs on the real controller (out to the place's joint pose and back),
  while objects and places are tracked symbolically in the scene shared with the kinematic robots.

Both offer their skills as ROS 2 services (:mod:`.services`) unless ``skills_as_services`` is off.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from roboos.edge.ros2.config import Ros2ArmOptions, Ros2HouseholdArmOptions
from roboos.edge.ros2.driver import Ros2ArmDriver, control_msgs_available
from roboos.edge.ros2.errors import Ros2BridgeError, StaleJointStateError
from roboos.edge.ros2.services import SkillServiceHost, ros_service_skill
from roboos.edge.ros2.skills import Ros2Driven, motion_skills
from roboos.sim.kinematic.robots import SimArm
from roboos.sim.kinematic.world import World
from roboos.skills.sdk import SkillContext, SkillSpec

from roboos.robot import RobotState


class _Ros2Parts:
    """Driver, ROS-service skills and the skill service host shared by both robot classes."""

    name: str
    embodiment: str

    def _init_ros(self, options: Ros2ArmOptions) -> None:
        self.options = options
        self.ros = Ros2ArmDriver(self.name, options)
        self._service_skills = [ros_service_skill(cfg, self._live_node) for cfg in options.ros_services]
        self._host: SkillServiceHost | None = None
        self._ros_lock = threading.Lock()

    def _live_node(self) -> Any:
        if self.ros.node is None:
            raise Ros2BridgeError(f"{self.name}: the ROS 2 node is not running (robot not connected)")
        return self.ros.node

    def _ros_skills(self) -> list[SkillSpec]:
        specs = [*motion_skills(list(self.options.poses)), *self._service_skills]
        if self.options.vla_endpoint:
            from roboos.edge.vla_skill import make_vla_skill

            specs.append(make_vla_skill(self.options.vla_endpoint, control_hz=self.options.policy_rate_hz))
        return specs

    def apply_action(self, action: np.ndarray) -> None:
        """One VLA action per control tick (:class:`~roboos.edge.vla_skill.ActionRobot`): the first
        ``len(joints)`` values are absolute joint targets (``action_mode: absolute``) or deltas scaled by
        ``action_scale`` (``delta``); values beyond the joints (padding) are ignored."""
        values = np.asarray(action, dtype=np.float64).ravel()
        n = len(self.ros.joints)
        if values.shape[0] < n:
            raise Ros2BridgeError(
                f"{self.name}: an action needs at least {n} values (one per joint), got {values.shape[0]}"
            )
        values = values[:n]
        if self.options.action_mode == "delta":
            base = self.ros.last_setpoint()
            if base is None:
                base = self.ros.snapshot().positions
            values = base + self.options.action_scale * values
        self.ros.stream_setpoint(values, 1.0 / self.options.policy_rate_hz)

    def _start_ros(self, all_skills: Sequence[SkillSpec]) -> None:
        with self._ros_lock:
            self.ros.start()
            if self.options.skills_as_services and self._host is None:
                prefix = self.options.service_prefix or f"/{self.name}/skills"
                self._host = SkillServiceHost(self.ros.context, self, all_skills, prefix)  # type: ignore[arg-type]
                self._host.start()

    def _stop_ros(self) -> None:
        with self._ros_lock:
            if self._host is not None:
                self._host.close()
                self._host = None
            self.ros.close()

    def _ros_extra(self) -> dict[str, Any]:
        age = self.ros.state_age()
        return {
            "backend": "ros2",
            "joint_names": list(self.ros.joints),
            "state_age_s": None if age is None else round(age, 3),
            "stale": age is None or age > self.options.stale_after_s,
            "controller": self.ros.controller_connected(),
            "mode": self.ros.mode if self.ros.node is not None else "offline",
        }

    def _measured_joints(self) -> list[float] | None:
        try:
            return [round(float(p), 5) for p in self.ros.snapshot(fresh=False).positions]
        except StaleJointStateError:
            return None

    def _ros_profile(self) -> dict[str, Any]:
        return {
            "backend": "ros2",
            "joints": list(self.ros.joints),
            "joint_state_topic": self.options.joint_state_topic,
            "trajectory_topic": self.options.trajectory_topic,
            "follow_joint_trajectory": control_msgs_available() and self.options.use_action != "never",
            "poses": list(self.options.poses),
            "policy_rate_hz": self.options.policy_rate_hz,
            # camera names as the frames arrive (observation/images/<name>); the topic is listed apart
            "cameras": [self.options.camera_name] if self.options.camera_topic else [],
            "camera_topic": self.options.camera_topic,
        }

    def _observation(self) -> dict[str, np.ndarray]:
        """Policy-ready keys: ``state`` (joint positions) and ``observation/images/<camera_name>``."""
        out: dict[str, np.ndarray] = {}
        joints = self._measured_joints()
        if joints is not None:
            out["state"] = np.asarray(joints, dtype=np.float32)
        image = self.ros.image()
        if image is not None:
            out[f"observation/images/{self.options.camera_name}"] = image
        return out


class Ros2Arm(_Ros2Parts, Ros2Driven):
    """An arm behind a ROS 2 joint-trajectory controller."""

    kind = "ros2_arm"

    def __init__(self, name: str, options: Ros2ArmOptions, *, embodiment: str = "arm") -> None:
        self.name, self.embodiment = name, embodiment
        self._stopped = False
        self._init_ros(options)

    def connect(self) -> None:
        self._start_ros(self.skills())

    def disconnect(self) -> None:
        if self.ros.node is not None:
            self.ros.hold()
        self._stop_ros()

    def stop(self) -> None:
        self._stopped = True
        self.ros.hold()

    def get_state(self) -> RobotState:
        extra = self._ros_extra()
        status = (
            "error"
            if extra["stale"]
            else "busy"
            if self.ros.moving()
            else "stopped"
            if self._stopped
            else "idle"
        )
        if status == "busy":
            self._stopped = False
        return RobotState(
            robot=self.name,
            embodiment=self.embodiment,
            status=status,
            joints=self._measured_joints(),
            extra=extra,
        )

    def skills(self) -> Sequence[SkillSpec]:
        return self._ros_skills()

    def get_observation(self) -> dict[str, np.ndarray]:
        return self._observation()

    def profile(self) -> dict[str, Any]:
        return {"name": self.name, "embodiment": self.embodiment, "kind": self.kind, **self._ros_profile()}


class Ros2HouseholdArm(_Ros2Parts, SimArm, Ros2Driven):
    """A ROS 2 arm in the household scene: household skills with real controller motions."""

    kind = "ros2_household_arm"

    def __init__(
        self,
        name: str,
        world: World,
        options: Ros2HouseholdArmOptions,
        *,
        at: str,
        reach: list[str] | None = None,
        embodiment: str = "arm",
    ) -> None:
        SimArm.__init__(self, name, world, at=at, reach=reach, embodiment=embodiment)
        self._init_ros(options)

    def connect(self) -> None:
        SimArm.connect(self)
        self._start_ros(self.skills())

    def disconnect(self) -> None:
        if self.ros.node is not None:
            self.ros.hold()
        self._stop_ros()
        SimArm.disconnect(self)

    def stop(self) -> None:
        SimArm.stop(self)
        self.ros.hold()

    def get_state(self) -> RobotState:
        state = SimArm.get_state(self)
        extra = {**state.extra, **self._ros_extra()}
        status = "error" if extra["stale"] and state.status == "idle" else state.status
        return state.model_copy(update={"joints": self._measured_joints(), "extra": extra, "status": status})

    def skills(self) -> Sequence[SkillSpec]:
        return [*SimArm.skills(self), *self._ros_skills()]

    def get_observation(self) -> dict[str, np.ndarray]:
        return self._observation()

    def profile(self) -> dict[str, Any]:
        return {**SimArm.profile(self), "kind": self.kind, **self._ros_profile()}

    def _arm_motion(self, place: str, context: SkillContext | None, duration_s: float) -> None:
        """Reach to the place's joint pose and back home, on the real controller."""
        target = self._pose_for(place)
        home = self.options.poses.get("home", [0.0] * len(self.ros.joints))
        leg = self.options.arm_motion_s / 2 if self.options.arm_motion_s else None
        cancel = context.cancel_event if context is not None else None
        self.ros.move_to(target, duration_s=leg, cancel=cancel)
        self.ros.move_to(home, duration_s=leg, cancel=cancel)

    def _pose_for(self, place: str) -> list[float]:
        if place in self.options.poses:
            return self.options.poses[place]
        if len(self.ros.joints) == 6:  # the kinematic arm's reach pose toward the place
            return [float(v) for v in self._joint_target(place)]
        raise Ros2BridgeError(f"{self.name}: no joint pose for '{place}': add options.poses.{place}")
