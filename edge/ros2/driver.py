"""``Ros2ArmDriver``: one ROS 2 node that reads an arm's joint state and commands its trajectory controller.

* Subscribes ``sensor_msgs/JointState`` (sensor-data QoS by default) and keeps the newest position of each
  configured joint; joints the controller reports but the config does not name are ignored.
* Commands go out as ``trajectory_msgs/JointTrajectory`` on the controller's topic, or, when
  ``control_msgs`` is importable and the server answers, as a ``control_msgs/FollowJointTrajectory``
  goal with per-joint goal tolerances (its result code is reported on failure).
* Safety: stale or incomplete joint state blocks motion (:class:`StaleJointStateError`); unknown joint
  names are refused (:class:`UnknownJointError`); :meth:`hold` (used by ``Robot.stop``) sends a
  hold-position trajectory; a controller that disappears fails the motion in progress
  (:class:`ControllerUnavailableError`) and is picked up again when it comes back — the node lives on.

The node spins in its own thread (single-threaded executor: callbacks are short), in a private rclpy
``Context`` so several robots (and tests) share one process without interfering.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from roboos.edge.ros2.config import Ros2ArmOptions
from roboos.edge.ros2.errors import (
    ControllerUnavailableError,
    Ros2BridgeError,
    Ros2Unavailable,
    StaleJointStateError,
    TrajectoryFailedError,
    UnknownJointError,
)
from roboos.edge.ros2.trajectory import (
    TrajectoryPoint,
    as_joint_array,
    check_limits,
    chunk_to_points,
    min_jerk_points,
    move_duration,
    sample,
)
from roboos.skills.errors import SkillCancelledError

log = logging.getLogger("roboos.edge.ros2")

_POLL_S = 0.005
_HOLD_S = 0.05
# control_msgs/FollowJointTrajectory result codes
ACTION_ERRORS = {
    -1: "INVALID_GOAL",
    -2: "INVALID_JOINTS",
    -3: "OLD_HEADER_TIMESTAMP",
    -4: "PATH_TOLERANCE_VIOLATED",
    -5: "GOAL_TOLERANCE_VIOLATED",
}


def import_ros() -> Any:
    """Import rclpy (``Ros2Unavailable`` with the install hint when missing)."""
    try:
        return importlib.import_module("rclpy")
    except ImportError as exc:
        raise Ros2Unavailable(
            f"rclpy is not importable ({exc}): pip install 'roboos[ros]' or source a ROS 2 installation"
        ) from exc


def control_msgs_available() -> bool:
    """True when ``control_msgs`` (FollowJointTrajectory) is importable; it is not on PyPI."""
    try:
        importlib.import_module("control_msgs.action")
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class JointSnapshot:
    """Measured joint state in the configured joint order."""

    positions: np.ndarray
    velocities: np.ndarray
    age_s: float


@dataclass
class _Active:
    """The trajectory last sent: where it started (monotonic time, state) and its points."""

    started: float
    start_positions: np.ndarray
    start_velocities: np.ndarray
    points: list[TrajectoryPoint]

    def commanded(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        return sample(self.points, now - self.started, self.start_positions, self.start_velocities)

    @property
    def end(self) -> float:
        return self.started + (self.points[-1].t if self.points else 0.0)


def _duration_msg(seconds: float) -> Any:
    from builtin_interfaces.msg import Duration

    sec = int(seconds)
    return Duration(sec=sec, nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


class Ros2ArmDriver:
    """Joint state in, trajectories out, for one arm. Thread-safe; blocking calls poll a cancel event."""

    def __init__(self, robot_name: str, options: Ros2ArmOptions) -> None:
        self.robot_name = robot_name
        self.options = options
        self.joints = list(options.joints)
        self._index = {name: i for i, name in enumerate(self.joints)}
        self._lock = threading.Lock()
        self._positions: dict[str, float] = {}
        self._velocities: dict[str, float] = {}
        self._stamp: float | None = None  # monotonic time of the last joint state message
        self._image: Any = None
        self._active: _Active | None = None
        self._last_setpoint: tuple[np.ndarray, float] | None = None  # (target, monotonic time)
        self._generation = 0  # bumped by hold(): waiting motions end
        self._goal_handle: Any = None
        self.context: Any = None
        self.node: Any = None
        self._executor: Any = None
        self._thread: threading.Thread | None = None
        self._action_client: Any = None
        self.trajectories_sent = 0

    # ------------------------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Create the context, the node and its subscriptions/publisher, and spin in a thread. Idempotent."""
        if self.node is not None:
            return
        rclpy = import_ros()
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        self.context = Context()
        init_kwargs = {"domain_id": self.options.domain_id} if self.options.domain_id is not None else {}
        rclpy.init(context=self.context, **init_kwargs)
        name = self.options.node_name or f"roboos_{self.robot_name}_bridge"
        self.node = rclpy.create_node(name, context=self.context)
        state_qos = (
            qos_profile_sensor_data if self.options.state_qos == "sensor_data" else QoSProfile(depth=10)
        )
        self.node.create_subscription(
            JointState, self.options.joint_state_topic, self._on_joint_state, state_qos
        )
        if self.options.camera_topic:
            from sensor_msgs.msg import Image

            self.node.create_subscription(
                Image, self.options.camera_topic, self._on_image, qos_profile_sensor_data
            )
        self._publisher = self.node.create_publisher(JointTrajectory, self.options.trajectory_topic, 10)
        if self.options.use_action != "never" and control_msgs_available():
            from control_msgs.action import FollowJointTrajectory
            from rclpy.action import ActionClient

            self._action_client = ActionClient(self.node, FollowJointTrajectory, self.options.action_name)
        elif self.options.use_action == "always":
            raise Ros2Unavailable(
                "use_action=always needs control_msgs (not on PyPI: source a ROS 2 installation)"
            )
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f"ros2-{self.robot_name}", daemon=True)
        self._thread.start()
        log.info(
            "ROS 2 bridge for %s: state %s, commands %s",
            self.robot_name,
            self.options.joint_state_topic,
            self.options.trajectory_topic,
        )

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # noqa: BLE001 - the context was shut down under the executor
            log.debug("executor of %s stopped", self.robot_name, exc_info=True)

    def close(self) -> None:
        """Stop spinning and release the node and the context."""
        if self.node is None:
            return
        import rclpy

        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        if self._thread is not None:
            self._thread.join(2.0)
        self.node = self._executor = self._thread = self._action_client = None

    # ------------------------------------------------------------------------------------ callbacks
    def _on_joint_state(self, msg: Any) -> None:
        now = time.monotonic()
        with self._lock:
            for i, name in enumerate(msg.name):
                if name in self._index:
                    if i < len(msg.position):
                        self._positions[name] = float(msg.position[i])
                    self._velocities[name] = float(msg.velocity[i]) if i < len(msg.velocity) else 0.0
            self._stamp = now

    def _on_image(self, msg: Any) -> None:
        channels = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4}.get(msg.encoding)
        if channels is None or msg.step < msg.width * channels or len(msg.data) < msg.step * msg.height:
            log.warning(
                "ignoring image on %s: unsupported encoding %r or inconsistent size",
                self.options.camera_topic,
                msg.encoding,
            )
            return
        rows = np.frombuffer(bytes(msg.data), dtype=np.uint8)[: msg.step * msg.height].reshape(
            msg.height, msg.step
        )
        image = rows[:, : msg.width * channels].reshape(msg.height, msg.width, channels)
        if msg.encoding.startswith("bgr"):
            image = image[..., [2, 1, 0, *([3] if channels == 4 else [])]]
        with self._lock:
            self._image = image.copy()

    # ------------------------------------------------------------------------------------ state
    def state_age(self) -> float | None:
        """Seconds since the last joint state message (``None``: none yet)."""
        with self._lock:
            return None if self._stamp is None else time.monotonic() - self._stamp

    def snapshot(self, *, fresh: bool = True) -> JointSnapshot:
        """The measured joint state; :class:`StaleJointStateError` when stale (``fresh``) or incomplete."""
        with self._lock:
            stamp = self._stamp
            missing = [j for j in self.joints if j not in self._positions]
            positions = np.array([self._positions.get(j, np.nan) for j in self.joints])
            velocities = np.array([self._velocities.get(j, 0.0) for j in self.joints])
        topic = self.options.joint_state_topic
        if stamp is None:
            raise StaleJointStateError(
                f"{self.robot_name}: no joint state received on {topic} yet: motion blocked"
            )
        if missing:
            raise StaleJointStateError(
                f"{self.robot_name}: the joint state on {topic} lacks joints "
                f"{', '.join(missing)}: motion blocked"
            )
        age = time.monotonic() - stamp
        if fresh and age > self.options.stale_after_s:
            raise StaleJointStateError(
                f"{self.robot_name}: joint state on {topic} is {age:.2f} s old "
                f"(limit {self.options.stale_after_s:g} s): motion blocked"
            )
        return JointSnapshot(positions=positions, velocities=velocities, age_s=age)

    def image(self) -> np.ndarray | None:
        with self._lock:
            return None if self._image is None else self._image.copy()

    def moving(self) -> bool:
        """A trajectory sent by this driver is still running (by its time stamps)."""
        with self._lock:
            return self._active is not None and time.monotonic() < self._active.end

    @property
    def mode(self) -> str:
        """``"action"`` when FollowJointTrajectory is in use, else ``"topic"``."""
        ready = self._action_client is not None and self._action_client.server_is_ready()
        return "action" if ready else "topic"

    def controller_connected(self) -> bool:
        """A controller listens on the trajectory topic (or the action server is ready)."""
        if self.node is None:
            return False
        if self._action_client is not None and self._action_client.server_is_ready():
            return True
        return self._publisher.get_subscription_count() > 0

    # ------------------------------------------------------------------------------------ commands
    def resolve_goal(self, goal: Mapping[str, float] | Sequence[float], current: np.ndarray) -> np.ndarray:
        """Joint targets in configured order: a full vector, or ``{joint: value}`` (others stay)."""
        if isinstance(goal, Mapping):
            unknown = sorted(set(goal) - set(self._index))
            if unknown:
                raise UnknownJointError(
                    f"{self.robot_name}: unknown joint(s) {', '.join(unknown)}; "
                    f"joints: {', '.join(self.joints)}"
                )
            target = current.copy()
            for name, value in goal.items():
                target[self._index[name]] = float(value)
            return as_joint_array(target, len(self.joints), "goal")
        return as_joint_array(goal, len(self.joints), "goal")

    def move_to(
        self,
        goal: Mapping[str, float] | Sequence[float],
        *,
        duration_s: float | None = None,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Move to ``goal`` along a minimum-jerk path; block until reached. Returns the final state."""
        snap = self._first_snapshot(cancel)
        target = self.resolve_goal(goal, snap.positions)
        start_pos, start_vel = self._commanded_now(snap)
        duration = duration_s or move_duration(
            start_pos, target, self.options.max_velocity, self.options.min_move_s
        )
        points = min_jerk_points(start_pos, target, duration, self.options.command_rate_hz)
        return self._execute(points, start_pos, start_vel, cancel, wait=True)

    def execute_chunk(
        self,
        chunk: np.ndarray,
        *,
        rate_hz: float | None = None,
        cancel: threading.Event | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Send one action chunk ``(T, J)`` as a trajectory blended into the motion in progress."""
        snap = self._first_snapshot(cancel)
        start_pos, start_vel = self._commanded_now(snap)
        moving = bool(np.any(np.abs(start_vel) > 1e-6))
        points = chunk_to_points(
            chunk,
            rate_hz or self.options.policy_rate_hz,
            current_positions=start_pos,
            current_velocities=start_vel if moving else None,
            blend_steps=self.options.blend_steps,
        )
        return self._execute(points, start_pos, start_vel, cancel, wait=wait)

    def stream_setpoint(self, target: Sequence[float] | np.ndarray, dt: float) -> None:
        """Stream one per-tick setpoint (VLA control loop): reach ``target`` in ``dt`` seconds, moving on.

        Never blocks: stale state, a missing controller or a limit violation raise at once. The point
        carries the velocity implied by the previous setpoint, so consecutive ticks blend into one motion.
        """
        self.snapshot()  # fresh, complete state or StaleJointStateError
        goal = as_joint_array(target, len(self.joints), "action")
        if not self.controller_connected():
            raise ControllerUnavailableError(
                f"{self.robot_name}: no trajectory controller listens on {self.options.trajectory_topic}"
            )
        now = time.monotonic()
        with self._lock:
            previous = self._last_setpoint
        velocity = np.zeros_like(goal)
        if previous is not None and now - previous[1] < 3 * dt:
            velocity = (goal - previous[0]) / dt
        points = [TrajectoryPoint(t=dt, positions=goal, velocities=velocity)]
        try:
            check_limits(points, self.joints, self.options.position_limits)
        except ValueError as exc:
            raise TrajectoryFailedError(f"{self.robot_name}: {exc}") from None
        from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

        msg = JointTrajectory()
        msg.joint_names = list(self.joints)
        msg.points = [
            JointTrajectoryPoint(
                positions=goal.tolist(), velocities=velocity.tolist(), time_from_start=_duration_msg(dt)
            )
        ]
        start_pos, start_vel = self._commanded_now(self.snapshot(fresh=False))
        with self._lock:
            self._active = _Active(now, start_pos, start_vel, points)
            self._last_setpoint = (goal, now)
        self._publisher.publish(msg)
        self.trajectories_sent += 1

    def last_setpoint(self) -> np.ndarray | None:
        with self._lock:
            return None if self._last_setpoint is None else self._last_setpoint[0].copy()

    def hold(self) -> None:
        """Stop: end waiting motions and command the current position (an empty trajectory when unknown)."""
        from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

        with self._lock:
            self._generation += 1
            self._active = None
            self._last_setpoint = None
            handle, self._goal_handle = self._goal_handle, None
        if self.node is None:
            return
        if handle is not None:
            handle.cancel_goal_async()
        msg = JointTrajectory()
        msg.joint_names = list(self.joints)
        try:
            here = self.snapshot(fresh=False).positions
            msg.points = [
                JointTrajectoryPoint(
                    positions=here.tolist(),
                    velocities=[0.0] * len(self.joints),
                    time_from_start=_duration_msg(_HOLD_S),
                )
            ]
        except StaleJointStateError:
            msg.points = []  # joint_trajectory_controller: an empty trajectory means "hold position"
        self._publisher.publish(msg)

    # ------------------------------------------------------------------------------------ internals
    def _commanded_now(self, snap: JointSnapshot) -> tuple[np.ndarray, np.ndarray]:
        """Where the arm is commanded to be now: the running trajectory's sample, else the measured state."""
        now = time.monotonic()
        with self._lock:
            active = self._active
        if active is not None and now < active.end:
            return active.commanded(now)
        return snap.positions, np.zeros_like(snap.positions)

    def _first_snapshot(self, cancel: threading.Event | None) -> JointSnapshot:
        """A fresh snapshot; right after start (no message yet) waits up to ``controller_wait_s`` for one."""
        deadline = time.monotonic() + self.options.controller_wait_s
        while self.state_age() is None and time.monotonic() < deadline:
            self._check_cancel(cancel)
            time.sleep(0.01)
        return self.snapshot()

    def _wait_controller(self, cancel: threading.Event | None) -> None:
        deadline = time.monotonic() + self.options.controller_wait_s
        while not self.controller_connected():
            if time.monotonic() >= deadline:
                raise ControllerUnavailableError(
                    f"{self.robot_name}: no trajectory controller listens on {self.options.trajectory_topic} "
                    f"(waited {self.options.controller_wait_s:g} s)"
                )
            self._check_cancel(cancel)
            time.sleep(0.02)

    def _check_cancel(self, cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            self.hold()
            raise SkillCancelledError(f"{self.robot_name}: motion cancelled")

    def _execute(
        self,
        points: list[TrajectoryPoint],
        start_pos: np.ndarray,
        start_vel: np.ndarray,
        cancel: threading.Event | None,
        *,
        wait: bool,
    ) -> dict[str, Any]:
        from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

        try:
            check_limits(points, self.joints, self.options.position_limits)
        except ValueError as exc:
            raise TrajectoryFailedError(f"{self.robot_name}: {exc}") from None
        self._wait_controller(cancel)
        msg = JointTrajectory()
        msg.joint_names = list(self.joints)  # header.stamp zero: start now
        msg.points = [
            JointTrajectoryPoint(
                positions=p.positions.tolist(),
                velocities=p.velocities.tolist(),
                time_from_start=_duration_msg(p.t),
            )
            for p in points
        ]
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._active = _Active(time.monotonic(), start_pos, start_vel, points)
        use_action = self._action_client is not None and self._action_client.server_is_ready()
        if use_action:
            return self._execute_action(msg, points, generation, cancel)
        self._publisher.publish(msg)
        self.trajectories_sent += 1
        if not wait:
            return {"sent_points": len(points), "duration_s": round(points[-1].t, 4)}
        return self._wait_reached(points[-1].positions, points[-1].t, generation, cancel)

    def _wait_reached(
        self, goal: np.ndarray, duration_s: float, generation: int, cancel: threading.Event | None
    ) -> dict[str, Any]:
        start = time.monotonic()
        deadline = start + duration_s + self.options.goal_time_tolerance_s
        while True:
            self._check_cancel(cancel)
            if self._generation != generation:
                raise Ros2BridgeError(f"{self.robot_name}: motion stopped")
            try:
                snap = self.snapshot()
            except StaleJointStateError as exc:
                self.hold()
                raise StaleJointStateError(f"{exc} (during the motion)") from None
            if not self.controller_connected():
                raise ControllerUnavailableError(
                    f"{self.robot_name}: the controller on "
                    f"{self.options.trajectory_topic} went away during the motion"
                )
            error = np.abs(snap.positions - goal)
            now = time.monotonic()
            if now - start >= duration_s and float(error.max()) <= self.options.goal_tolerance:
                return {
                    "reached": True,
                    "positions": [round(float(p), 5) for p in snap.positions],
                    "max_error": round(float(error.max()), 5),
                    "duration_s": round(now - start, 4),
                }
            if now > deadline:
                worst = int(np.argmax(error))
                raise TrajectoryFailedError(
                    f"{self.robot_name}: goal not reached "
                    f"{duration_s + self.options.goal_time_tolerance_s:.2f} s "
                    f"after the start: joint '{self.joints[worst]}' is {error[worst]:.3f} off "
                    f"(tolerance {self.options.goal_tolerance:g})"
                )
            time.sleep(_POLL_S)

    def _execute_action(
        self, trajectory: Any, points: list[TrajectoryPoint], generation: int, cancel: threading.Event | None
    ) -> dict[str, Any]:  # pragma: no cover - needs control_msgs
        from control_msgs.action import FollowJointTrajectory
        from control_msgs.msg import JointTolerance

        goal = FollowJointTrajectory.Goal()
        goal.trajectory = trajectory
        goal.goal_tolerance = [
            JointTolerance(name=j, position=self.options.goal_tolerance) for j in self.joints
        ]
        goal.goal_time_tolerance = _duration_msg(self.options.goal_time_tolerance_s)
        handle = self._wait_future(self._action_client.send_goal_async(goal), 5.0, cancel)
        if not handle.accepted:
            raise TrajectoryFailedError(f"{self.robot_name}: the controller rejected the trajectory goal")
        with self._lock:
            self._goal_handle = handle
        self.trajectories_sent += 1
        limit = points[-1].t + self.options.goal_time_tolerance_s + 5.0
        response = self._wait_future(handle.get_result_async(), limit, cancel, generation)
        result = response.result
        if result.error_code != 0:
            name = ACTION_ERRORS.get(result.error_code, str(result.error_code))
            raise TrajectoryFailedError(
                f"{self.robot_name}: FollowJointTrajectory failed: {name} {result.error_string}"
            )
        return {"reached": True, "action": True, "duration_s": round(points[-1].t, 4)}

    def _wait_future(
        self, future: Any, timeout: float, cancel: threading.Event | None, generation: int | None = None
    ) -> Any:  # pragma: no cover - needs control_msgs
        deadline = time.monotonic() + timeout
        while not future.done():
            self._check_cancel(cancel)
            if generation is not None and self._generation != generation:
                raise Ros2BridgeError(f"{self.robot_name}: motion stopped")
            if time.monotonic() > deadline:
                raise TrajectoryFailedError(
                    f"{self.robot_name}: the action server did not answer in {timeout:g} s"
                )
            time.sleep(_POLL_S)
        return future.result()
