"""Kinematic simulated robots: a fixed single arm and a wheeled mobile manipulator.

Both act in a shared :class:`~roboos.sim.kinematic.world.World`. Motions take simulated time (a fixed
duration per arm motion, distance / speed for driving, all multiplied by the world's ``time_scale``),
during which they poll the call's cancel event and :meth:`stop`; a cancelled or stopped motion changes
nothing in the world (an interrupted drive leaves the base between places).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from roboos.robot import Pose2D, RobotState
from roboos.sim.household.activity import RobotActivity
from roboos.sim.household.base import HouseholdRobot
from roboos.sim.kinematic.world import World
from roboos.skills.sdk import SkillContext

_POLL_S = 0.01
_ARM_JOINTS = 6


class KinematicRobot(HouseholdRobot):
    """Shared behaviour of the kinematic robots: busy/stop bookkeeping, timed motions, gripper, scan."""

    kind = "kinematic"
    arm_motion_s = 1.0  # one approach-grasp-lift (or approach-release-retreat) motion
    gripper_s = 0.3
    articulation_s = 1.5  # opening or closing a fridge door / drawer

    def __init__(self, name: str, world: World, *, embodiment: str, at: str,
                 reach: list[str] | None = None) -> None:
        self.name, self.embodiment, self.world = name, embodiment, world
        self._at, self._reach = at, reach
        self.activity = RobotActivity(name, before=lambda skill: world.take_failure(skill, name))
        self._joints = [0.0] * _ARM_JOINTS
        self._connected = False

    # ----------------------------------------------------------------------------------- Robot seam
    def connect(self) -> None:
        if not self._connected:
            self.world.add_robot(self.name, self.embodiment, at=self._at, reach=self._reach)
            self._connected = True

    def disconnect(self) -> None:
        if self._connected:
            self.stop()
            self.world.remove_robot(self.name)
            self._connected = False

    def stop(self) -> None:
        self.activity.stop()

    def get_state(self) -> RobotState:
        body = self.world.body(self.name)
        return RobotState(
            robot=self.name,
            embodiment=self.embodiment,
            status=self.activity.status,
            location=body.location,
            pose=body.pose if self.mobile else None,
            joints=[round(j, 4) for j in self._joints],
            holding=body.holding,
            extra={"gripper": "closed" if body.gripper_closed else "open", "skill": self.activity.current,
                   "reach": self.world.reachable(self.name), "last_error": self.activity.last_error},
        )

    def profile(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "embodiment": self.embodiment,
            "kind": self.kind,
            "backend": "kinematic",
            "scene": self.world.scene.name,
            "mobile": self.mobile,
            "home": self._at,
            "reach": list(self._reach) if self._reach is not None else None,
            "gripper": "parallel",
            "cameras": [],
        }

    def scene_places(self) -> list[str]:
        return self.world.place_names()

    def scene_objects(self) -> list[str]:
        return self.world.object_names()

    # ----------------------------------------------------------------------------------- motions
    def action(self, skill: str, context: SkillContext | None):  # noqa: ANN201 - a context manager
        """Run one skill exclusively (see :class:`RobotActivity`)."""
        return self.activity.action(skill, context)

    def move(self, duration_s: float, context: SkillContext | None,
             progress: Callable[[float], None] | None = None) -> None:
        """Spend ``duration_s`` × time_scale seconds moving; raise if cancelled or stopped meanwhile."""
        gen = self.activity.stop_gen
        total = max(0.0, duration_s * self.world.time_scale)
        start = time.monotonic()
        while True:
            self.activity.check(gen, context)
            elapsed = time.monotonic() - start
            frac = 1.0 if total <= 0 else min(1.0, elapsed / total)
            if progress is not None:
                progress(frac)
            if frac >= 1.0:
                return
            time.sleep(min(_POLL_S, total - elapsed))

    def _arm_motion(self, place: str, context: SkillContext | None, duration_s: float) -> None:
        """Reach toward ``place`` and come back (joint vector interpolated for the state stream)."""
        target = self._joint_target(place)

        def progress(frac: float) -> None:
            phase = 1.0 - abs(2.0 * frac - 1.0)  # out and back
            self._joints = [t * phase for t in target]

        try:
            self.move(duration_s, context, progress)
        finally:
            self._joints = [0.0] * _ARM_JOINTS

    def _joint_target(self, place: str) -> list[float]:
        body = self.world.body(self.name)
        px, py = self.world.position(place)
        dx, dy = px - body.pose.x, py - body.pose.y
        dist = min(math.hypot(dx, dy), 1.2)
        yaw = math.atan2(dy, dx) - body.pose.theta if dist > 1e-6 else 0.0
        return [yaw, 0.4 + 0.5 * dist, -0.9 - 0.4 * dist, 0.5, 0.0, 0.2]

    # ------------------------------------------------------------------------------- primitives
    def do_pick(self, obj: str, context: SkillContext) -> dict[str, Any]:
        with self.action("pick", context):
            source = self.world.check_pick(self.name, obj)
            self._arm_motion(source, context, self.arm_motion_s)
            effects = self.world.commit_pick(self.name, obj)
            return {"picked": obj, "from": source, "effects": effects}

    def do_place(self, target: str, context: SkillContext) -> dict[str, Any]:
        with self.action("place", context):
            obj = self.world.check_place(self.name, target)
            self._arm_motion(target, context, self.arm_motion_s)
            effects = self.world.commit_place(self.name, target)
            return {"placed": obj, "at": target, "effects": effects}

    def do_gripper(self, closed: bool, context: SkillContext) -> dict[str, Any]:
        with self.action("close_gripper" if closed else "open_gripper", context):
            self.move(self.gripper_s, context)
            effects = self.world.set_gripper(self.name, closed)
            return {"gripper": "closed" if closed else "open", "effects": effects}

    def do_container(self, container: str, open_: bool, context: SkillContext) -> dict[str, Any]:
        with self.action("open_container" if open_ else "close_container", context):
            self.world.check_open(self.name, container, open_)
            self._arm_motion(container, context, self.articulation_s)
            effects = self.world.commit_open(self.name, container, open_)
            return {"container": container, "open": open_, "effects": effects}

    def do_scan(self, context: SkillContext) -> dict[str, Any]:
        from roboos.skills.effects import Effect

        with self.action("scan", context):
            self.move(0.5, context)
            places = self.world.reachable(self.name)
            seen = [self.world.describe(o) for p in places if self.world.is_open(p) for o in self.world.objects_at(p)]
            closed = [p for p in places if not self.world.is_open(p)]
            effects = [Effect(subject=f"object:{o['name']}", attribute="location", value=o["where"]) for o in seen]
            return {"places": places, "objects": seen, "closed": closed, "effects": effects}


class SimArm(KinematicRobot):
    """A fixed single arm with a parallel gripper; it reaches a fixed set of places."""

    kind = "sim_arm"
    mobile = False

    def __init__(self, name: str, world: World, *, at: str, reach: list[str] | None = None,
                 embodiment: str = "arm") -> None:
        super().__init__(name, world, embodiment=embodiment, at=at, reach=list(reach or [at]))


class SimMobileManipulator(KinematicRobot):
    """A wheeled base with one arm: it manipulates at the place it stands at and drives between places."""

    kind = "sim_mobile_manipulator"
    mobile = True

    def __init__(self, name: str, world: World, *, at: str, speed_m_s: float = 1.0,
                 embodiment: str = "mobile_manipulator") -> None:
        if speed_m_s <= 0:
            raise ValueError(f"speed_m_s must be positive, got {speed_m_s}")
        super().__init__(name, world, embodiment=embodiment, at=at, reach=None)
        self.speed_m_s = speed_m_s

    def profile(self) -> dict[str, Any]:
        return {**super().profile(), "speed_m_s": self.speed_m_s}

    def do_navigate(self, target: str, context: SkillContext) -> dict[str, Any]:
        with self.action("navigate", context):
            gx, gy = self.world.position(target)  # raises RobotError for an unknown place
            start = self.world.body(self.name).pose
            distance = math.hypot(gx - start.x, gy - start.y)
            theta = math.atan2(gy - start.y, gx - start.x) if distance > 1e-9 else start.theta

            def progress(frac: float) -> None:
                pose = Pose2D(x=start.x + (gx - start.x) * frac, y=start.y + (gy - start.y) * frac, theta=theta)
                self.world.set_pose(self.name, pose, target if frac >= 1.0 else None)

            try:
                self.move(distance / self.speed_m_s, context, progress)
            except BaseException:
                body = self.world.body(self.name)
                if body.location is None and math.hypot(body.pose.x - start.x, body.pose.y - start.y) < 1e-9:
                    self.world.set_pose(self.name, start, self._location_at(start))
                raise
            effects = self.world.set_pose(self.name, Pose2D(x=gx, y=gy, theta=theta), target)
            return {"arrived": target, "distance_m": round(distance, 3), "effects": effects}

    def _location_at(self, pose: Pose2D) -> str | None:
        for place in self.world.place_names():
            if self.world.distance(pose, place) < 1e-6:
                return place
        return None
