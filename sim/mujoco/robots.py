"""MuJoCo robots: a fixed 6-DoF arm and a mobile manipulator whose skills really move the physics.

Every motion is a joint-space trajectory to an IK solution, tracked by the position actuators while
the physics steps; straight-line moves (descend, lift, pull a drawer) go through IK waypoints. A grasp
closes the fingers on the object; when both finger pads touch it a weld constraint engages and holds it
(the usual "grasp assist" of benchmark simulators: a missed grasp still fails). Motions poll the call's
cancel event and :meth:`stop` between physics chunks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from roboos.robot import Pose2D, RobotError, RobotState
from roboos.sim.household.activity import RobotActivity
from roboos.sim.household.base import HouseholdRobot
from roboos.sim.mujoco import mjcf
from roboos.sim.mujoco.ik import ArmKinematics, IKError
from roboos.sim.mujoco.world import MujocoWorld
from roboos.skills.effects import Effect
from roboos.skills.sdk import SkillContext, SkillSpec

CHUNK = 10  # physics steps between cancel checks (20 ms of sim time)
JOINT_SPEED = 1.6  # rad/s of the fastest joint along a trajectory
CARTESIAN_SPEED = 0.25  # m/s for straight-line moves
HOVER = 0.12  # approach height above a grasp / put-down point
REACH = (0.2, 0.62)  # horizontal distances from the arm base where top-down grasps work


class MujocoArmRobot(HouseholdRobot):
    """Shared behaviour of the MuJoCo robots (one arm each)."""

    kind = "mujoco_arm"

    def __init__(self, name: str, world: MujocoWorld, *, embodiment: str = "arm") -> None:
        self.name, self.embodiment, self.world = name, embodiment, world
        self.prefix = f"{name}_"
        self.hand = f"{self.prefix}hand"
        self.kin = ArmKinematics(world.model, self.prefix)
        self.activity = RobotActivity(name, before=self._planted_failure)
        self.failures: dict[str, int] = {}

    # --------------------------------------------------------------------------------- Robot seam
    def stop(self) -> None:
        self.activity.stop()
        with self.world.lock:  # hold position: targets = where the joints are now
            d = self.world.data
            d.ctrl[self.kin.actuators] = d.qpos[self.kin.qpos_adr]

    def get_state(self) -> RobotState:
        with self.world.lock:
            joints = [round(float(q), 4) for q in self.world.data.qpos[self.kin.qpos_adr]]
            gripper = float(self.world.data.qpos[self.kin.finger_qpos])
        return RobotState(robot=self.name, embodiment=self.embodiment, status=self.activity.status,
                          location=self.location(), pose=self.base_pose() if self.mobile else None,
                          joints=joints + [round(gripper, 4)], holding=self.holding(),
                          extra={"gripper": "open" if gripper > 0.02 else "closed", "skill": self.activity.current,
                                 "reach": self.reach(), "last_error": self.activity.last_error,
                                 "sim_time": round(self.world.time, 3)})

    def get_observation(self) -> dict[str, np.ndarray]:
        with self.world.lock:
            state = np.concatenate([self.world.data.qpos[self.kin.qpos_adr],
                                    [self.world.data.qpos[self.kin.finger_qpos]]]).astype(np.float32)
        return {"image": self.world.render(None, 224, 224),
                "wrist_image": self.world.render(f"{self.prefix}wrist_cam", 224, 224), "state": state}

    def profile(self) -> dict[str, Any]:
        return {"name": self.name, "embodiment": self.embodiment, "kind": self.kind, "backend": "mujoco",
                "scene": self.world.layout.name, "mobile": self.mobile, "reach": None if self.mobile else self.reach(),
                "home": self.location(), "gripper": "parallel", "dof": 6,
                "cameras": ["image", "wrist_image"]}

    def skills(self) -> Sequence[SkillSpec]:
        from roboos.sim.mujoco.skills import PHYSICS_SKILLS
        from roboos.skills.sdk import get_spec

        return [*super().skills(), *(get_spec(f) for f in PHYSICS_SKILLS)]

    def scene_places(self) -> list[str]:
        return [p.name for p in self.world.layout.places if p.name != "floor"]

    def scene_objects(self) -> list[str]:
        return list(self.world.objects)

    # ------------------------------------------------------------------------------------ symbols
    def holding(self) -> str | None:
        return self.world.held.get(self.hand) if self.world.held.get(self.hand) in self.world.objects else None

    def location(self) -> str | None:
        return None

    def reach(self) -> list[str]:
        return []

    def base_pose(self) -> Pose2D:
        x, y = self.kin.base_xy(self.world.data)
        return Pose2D(x=float(x), y=float(y), theta=0.0)

    def _planted_failure(self, skill: str) -> None:
        left = self.failures.get(skill, 0)
        if left > 0:
            self.failures[skill] = left - 1
            raise RobotError(f"{self.name}: injected failure of '{skill}'")

    # ---------------------------------------------------------------------------------- motion
    def _q(self) -> np.ndarray:
        with self.world.lock:
            return self.world.data.qpos[self.kin.qpos_adr].copy()

    def _run(self, steps: int, gen: int, context: SkillContext | None) -> None:
        start_sim, start_wall = self.world.time, time.monotonic()
        for _ in range(max(1, steps // CHUNK)):
            self.activity.check(gen, context)
            self.world.step(CHUNK)
            if self.world.realtime:
                ahead = (self.world.time - start_sim) - (time.monotonic() - start_wall)
                if ahead > 0:
                    time.sleep(ahead)

    def drive_joints(self, target: np.ndarray, context: SkillContext | None, speed: float = JOINT_SPEED) -> None:
        """Track a smooth joint trajectory to ``target``, then let the joints settle."""
        gen = self.activity.stop_gen
        with self.world.lock:
            start = self.world.data.ctrl[self.kin.actuators].copy()
        duration = max(0.2, float(np.abs(target - start).max()) / speed)
        chunks = max(1, int(duration / (CHUNK * self.world.model.opt.timestep)))
        for k in range(1, chunks + 1):
            s = k / chunks
            alpha = s * s * (3 - 2 * s)
            with self.world.lock:
                self.world.data.ctrl[self.kin.actuators] = start + (target - start) * alpha
            self._run(CHUNK, gen, context)
        for _ in range(40):  # settle: up to 0.8 s
            if np.abs(self._q() - target).max() < 0.01:
                break
            self._run(CHUNK, gen, context)

    def move_to(self, pos: np.ndarray, yaw: float, context: SkillContext | None) -> None:
        try:
            q = self.kin.solve(self.world.data, np.asarray(pos, float), yaw, q_init=self._q())
        except IKError as exc:
            raise RobotError(f"{self.name}: {exc}") from None
        self.drive_joints(q, context)

    def move_line(self, goal: np.ndarray, yaw: float, context: SkillContext | None,
                  speed: float = CARTESIAN_SPEED) -> None:
        """Move the grip site along a straight line to ``goal`` through IK waypoints."""
        with self.world.lock:
            start = self.world.data.site_xpos[self.kin.site].copy()
        n = max(1, int(np.linalg.norm(goal - start) / 0.02))
        q = self._q()
        for k in range(1, n + 1):
            point = start + (goal - start) * (k / n)
            try:
                q = self.kin.solve(self.world.data, point, yaw, q_init=q)
            except IKError as exc:
                raise RobotError(f"{self.name}: {exc}") from None
            self.drive_joints(q, context, speed=max(0.5, speed * 8))

    def set_gripper(self, closed: bool, context: SkillContext | None, opening: float = mjcf.FINGER_OPEN) -> None:
        gen = self.activity.stop_gen
        with self.world.lock:
            self.world.data.ctrl[self.kin.gripper_actuator] = 0.0 if closed else opening
        self._run(int(0.4 / self.world.model.opt.timestep), gen, context)

    def grip_pos(self) -> np.ndarray:
        with self.world.lock:
            return self.world.data.site_xpos[self.kin.site].copy()

    def home(self, context: SkillContext | None) -> None:
        self.drive_joints(np.array(mjcf.ARM_HOME), context)

    def assist_grasp(self, closing: bool) -> str | None:
        """Low-level control (gym env): engage the grasp weld on an object both fingers touch while the
        gripper closes; release it when the gripper opens. Returns the held object."""
        if not closing:
            self.world.detach(self.hand)
            return None
        if self.hand not in self.world.held:
            for name in self.world.objects:
                body = self.world.model.body(name).id
                if self.world.holder_of(name) is None and all(self.world.touching(g, body)
                                                              for g in self.kin.finger_geoms):
                    self.world.attach(self.hand, name)
                    break
        return self.holding()

    # ------------------------------------------------------------------------------ reachability
    def can_reach(self, place: str) -> bool:
        return place in self.reach()

    def _require_reach(self, place: str, action: str) -> None:
        if not self.can_reach(place):
            where = f"it reaches {', '.join(self.reach()) or 'nothing from here'}"
            if self.mobile:
                where = f"it is at '{self.location() or 'no place'}'; navigate to '{place}' first"
            raise RobotError(f"{self.name} cannot {action}: '{place}' is out of reach ({where})")

    def _radial_yaw(self, xy: np.ndarray) -> float:
        base = self.kin.base_xy(self.world.data)
        return math.atan2(xy[1] - base[1], xy[0] - base[0])

    def _grasp_yaw(self, obj: str, xy: np.ndarray) -> float:
        radial = self._radial_yaw(xy)
        kind = self.world.objects[obj].kind
        if kind not in ("cube", "block"):
            return radial
        yaw = self.world.object_yaw(obj) + (math.pi / 2 if kind == "block" else 0.0)
        step = math.pi / 2 if kind == "cube" else math.pi
        return min((yaw + k * step for k in range(-4, 5)), key=lambda a: abs(_wrap(a - radial)))

    # ---------------------------------------------------------------------------------- primitives
    def do_pick(self, obj: str, context: SkillContext) -> dict[str, Any]:
        with self.activity.action("pick", context):
            if obj not in self.world.objects:
                raise RobotError(f"unknown object '{obj}'")
            if self.holding():
                raise RobotError(f"{self.name}'s gripper is already full (holding '{self.holding()}'); place it first")
            holder = self.world.holder_of(obj)
            if holder:
                raise RobotError(f"'{obj}' is held by {holder}")
            source = self.world.location_of(obj)
            self._require_reach(source, f"pick '{obj}'")
            if self.world.places[source].joint and not self.world.is_open(source):
                raise RobotError(f"cannot take '{obj}' out: '{source}' is closed; open it first")
            pos = self.world.object_pos(obj)
            yaw = self._grasp_yaw(obj, pos[:2])
            grasp = pos.copy()
            grasp[2] = max(pos[2], self.world.surface_z(source) + 0.02)
            self.set_gripper(False, context)
            self.move_to(grasp + [0, 0, HOVER], yaw, context)
            self.move_line(grasp, yaw, context)
            self.set_gripper(True, context)
            body = self.world.model.body(obj).id
            if not all(self.world.touching(g, body) for g in self.kin.finger_geoms):
                self.set_gripper(False, context)
                self.move_line(grasp + [0, 0, HOVER], yaw, context)
                raise RobotError(f"{self.name} missed '{obj}': the fingers closed without holding it")
            self.world.attach(self.hand, obj)
            self.move_line(grasp + [0, 0, HOVER], yaw, context)
            return {"picked": obj, "from": source, "effects": [
                Effect(subject=f"object:{obj}", attribute="location", value=f"robot:{self.name}"),
                Effect(subject=f"robot:{self.name}", attribute="holding", value=obj)]}

    def do_place(self, target: str, context: SkillContext) -> dict[str, Any]:
        with self.activity.action("place", context):
            obj = self.holding()
            if obj is None:
                raise RobotError(f"{self.name} holds nothing to place")
            spec = self.world.places.get(target)
            if spec is None or spec.kind == "station":
                raise RobotError(f"'{target}' is not a surface or container")
            self._require_reach(target, f"place '{obj}' at '{target}'")
            if spec.joint and not self.world.is_open(target):
                raise RobotError(f"cannot put '{obj}' in: '{target}' is closed; open it first")
            base = self.kin.base_xy(self.world.data)
            spot = self.world.free_spot(target, near=base, within=(base, *REACH), ignore=[obj])
            if spot is None:
                raise RobotError(f"no free spot within reach on/in '{target}'")
            grip_to_obj = self.grip_pos()[2] - self.world.object_pos(obj)[2]
            z = self.world.surface_z(target) + self.world.half_height(obj) + 0.012 + grip_to_obj
            down = np.array([spot[0], spot[1], z])
            yaw = self._radial_yaw(down[:2])
            clear = self.world.surface_z(target) + spec.wall + 0.06 + self.world.half_height(obj) * 2 + grip_to_obj
            self.move_to(np.array([spot[0], spot[1], max(z + HOVER, clear)]), yaw, context)
            self.move_line(down, yaw, context)
            self.world.detach(self.hand)
            self.set_gripper(False, context)
            self.move_line(np.array([spot[0], spot[1], max(z + HOVER, clear)]), yaw, context)
            self.home(context)  # out of the way of other robots working here
            where = self.world.location_of(obj)
            if where != target:
                raise RobotError(f"'{obj}' did not stay at '{target}': it ended up at '{where}'")
            return {"placed": obj, "at": target, "effects": [
                Effect(subject=f"object:{obj}", attribute="location", value=target),
                Effect(subject=f"robot:{self.name}", attribute="holding", value=None)]}

    def do_gripper(self, closed: bool, context: SkillContext) -> dict[str, Any]:
        with self.activity.action("close_gripper" if closed else "open_gripper", context):
            effects = [Effect(subject=f"robot:{self.name}", attribute="gripper", value="closed" if closed else "open")]
            if not closed:
                dropped = self.world.detach(self.hand)
                self.set_gripper(False, context)
                if dropped in self.world.objects:
                    self.world.settle(0.5)
                    effects += [Effect(subject=f"object:{dropped}", attribute="location",
                                       value=self.world.location_of(dropped)),
                                Effect(subject=f"robot:{self.name}", attribute="holding", value=None)]
            else:
                self.set_gripper(True, context)
            return {"gripper": "closed" if closed else "open", "effects": effects}

    def do_container(self, container: str, open_: bool, context: SkillContext) -> dict[str, Any]:
        verb = "open" if open_ else "close"
        with self.activity.action(f"{verb}_container", context):
            spec = self.world.places.get(container)
            if spec is None or spec.joint is None:
                raise RobotError(f"'{container}' cannot be opened or closed")
            if self.holding():
                raise RobotError(f"{self.name} needs a free gripper to {verb} '{container}' "
                                 f"(holding '{self.holding()}')")
            self._require_reach(container, f"{verb} '{container}'")
            if (self.world.is_open(container) if open_ else self.world.is_closed(container)):
                raise RobotError(f"'{container}' is already {'open' if open_ else 'closed'}")
            with self.world.lock:
                handle = self.world.data.site_xpos[self.world.model.site(spec.handle).id].copy()
            axis = np.array([*spec.open_axis, 0.0])
            yaw = math.atan2(axis[1], axis[0]) + math.pi / 2  # fingers close along the pull axis
            grasp = handle + [0, 0, 0.005]
            self.set_gripper(False, context, opening=mjcf.HANDLE_GRIP)
            self.move_to(grasp + [0, 0, HOVER], yaw, context)
            self.move_line(grasp, yaw, context)
            self.set_gripper(True, context)
            drawer = self.world.model.body(spec.body).id
            if not all(self.world.touching(g, drawer) for g in self.kin.finger_geoms):
                self.set_gripper(False, context)
                self.move_line(grasp + [0, 0, HOVER], yaw, context)
                raise RobotError(f"{self.name} missed the handle of '{container}'")
            self.world.attach(self.hand, spec.body)
            fraction = self.world.drawer_fraction(container)
            goal_fraction = 1.0 if open_ else 0.0
            try:
                self.move_line(grasp + axis * (goal_fraction - fraction) * spec.travel, yaw, context, speed=0.15)
            finally:
                self.world.detach(self.hand)
                self.set_gripper(False, context)
            self.move_line(self.grip_pos() + [0, 0, HOVER], yaw, context)
            self.home(context)
            done = self.world.is_open(container) if open_ else self.world.is_closed(container)
            if not done:
                raise RobotError(f"'{container}' is stuck at {self.world.drawer_fraction(container):.0%} open")
            return {"container": container, "open": open_,
                    "effects": [Effect(subject=f"place:{container}", attribute="open", value=open_)]}

    def do_scan(self, context: SkillContext) -> dict[str, Any]:
        with self.activity.action("scan", context):
            self._run(int(0.3 / self.world.model.opt.timestep), self.activity.stop_gen, context)
            places = self.reach()
            seen = []
            for name, spec in self.world.objects.items():
                where = self.world.location_of(name)
                if where in places and self.world.is_open(where):
                    seen.append({"name": name, "kind": spec.kind, "color": spec.color, "where": where,
                                 "pos": [round(float(v), 3) for v in self.world.object_pos(name)]})
            return {"places": places, "objects": seen, "effects": [
                Effect(subject=f"object:{o['name']}", attribute="location", value=o["where"]) for o in seen]}


class MujocoArm(MujocoArmRobot):
    """A fixed 6-DoF arm; it reaches the places whose regions lie in its workspace."""

    kind = "mujoco_arm"
    mobile = False

    def __init__(self, name: str, world: MujocoWorld, *, embodiment: str = "arm") -> None:
        super().__init__(name, world, embodiment=embodiment)
        self._reach = [p.name for p in world.layout.places
                       if p.kind != "station" and p.name != "floor" and self._in_workspace(p.name)]

    def _in_workspace(self, place: str) -> bool:
        base = self.kin.base_xy(self.world.data)
        spec = self.world.places[place]
        target = np.array(spec.handle and self._site(spec.handle) or [*spec.center, spec.top])
        if not REACH[0] <= float(np.hypot(*(target[:2] - base))) <= REACH[1]:
            return False
        try:
            self.kin.solve(self.world.data, target + [0, 0, 0.05], self._radial_yaw(target[:2]))
        except IKError:
            return False
        return True

    def _site(self, site: str) -> list[float]:
        with self.world.lock:
            return list(self.world.data.site_xpos[self.world.model.site(site).id])

    def reach(self) -> list[str]:
        return list(self._reach)

    def location(self) -> str | None:
        return self._reach[0] if self._reach else None


class MujocoMobileManipulator(MujocoArmRobot):
    """A holonomic wheeled base with the same arm; it works at the place whose stand pose it occupies."""

    kind = "mujoco_mobile_manipulator"
    mobile = True

    def __init__(self, name: str, world: MujocoWorld, *, embodiment: str = "mobile_manipulator",
                 speed_m_s: float = 0.8) -> None:
        super().__init__(name, world, embodiment=embodiment)
        m = world.model
        self.base_qpos = np.array([m.jnt_qposadr[m.joint(f"{self.prefix}{a}").id]
                                   for a in ("base_x", "base_y", "base_yaw")])
        self.base_act = np.array([m.actuator(f"{self.prefix}{a}").id for a in ("base_x", "base_y", "base_yaw")])
        self.speed_m_s = speed_m_s

    def base_pose(self) -> Pose2D:
        with self.world.lock:
            x, y, yaw = self.world.data.qpos[self.base_qpos]
        return Pose2D(x=float(x), y=float(y), theta=float(yaw))

    def location(self) -> str | None:
        pose = self.base_pose()
        for spec in self.world.layout.places:
            if spec.stand is not None and math.hypot(spec.stand[0] - pose.x, spec.stand[1] - pose.y) < 0.05 \
                    and abs(_wrap(spec.stand[2] - pose.theta)) < 0.1:
                return spec.name
        return None

    def reach(self) -> list[str]:
        here = self.location()
        if here is None or self.world.places[here].kind == "station":
            return []
        return [here]

    def do_navigate(self, target: str, context: SkillContext) -> dict[str, Any]:
        with self.activity.action("navigate", context):
            spec = self.world.places.get(target)
            if spec is None or spec.stand is None:
                raise RobotError(f"'{target}' has no spot for the base to stand at")
            self.home(context)
            start = self.base_pose()
            goal = np.array(spec.stand, float)
            goal[2] = start.theta + _wrap(goal[2] - start.theta)
            begin = np.array([start.x, start.y, start.theta])
            distance = float(np.hypot(*(goal[:2] - begin[:2])))
            duration = max(0.3, distance / self.speed_m_s, abs(goal[2] - begin[2]) / 1.2)
            gen = self.activity.stop_gen
            chunks = max(1, int(duration / (CHUNK * self.world.model.opt.timestep)))
            for k in range(1, chunks + 1):
                s = k / chunks
                with self.world.lock:
                    self.world.data.ctrl[self.base_act] = begin + (goal - begin) * (s * s * (3 - 2 * s))
                self._run(CHUNK, gen, context)
            for _ in range(100):
                if self.location() == target:
                    break
                self._run(CHUNK, gen, context)
            if self.location() != target:
                raise RobotError(f"{self.name} did not reach '{target}'")
            pose = self.base_pose()
            return {"arrived": target, "distance_m": round(distance, 3), "effects": [
                Effect(subject=f"robot:{self.name}", attribute="location", value=target),
                Effect(subject=f"robot:{self.name}", attribute="pose", value=pose.model_dump())]}


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi
