"""A test trajectory controller node: what ros2_control's joint_trajectory_controller does, in miniature.

It receives ``trajectory_msgs/JointTrajectory`` on its command topic, follows it in real time (linear
interpolation between the time-stamped points, starting from where the joints are when it arrives,
replacing any trajectory in progress), and publishes ``sensor_msgs/JointState`` at ``rate_hz`` — with the
joints in reverse order plus one joint the bridge does not know, as real robots often do. Trajectories
naming unknown joints are rejected (like the real controller); an empty trajectory means "hold".
Also offers ``std_srvs/srv/SetBool`` at ``~/enable`` (an existing ROS service for the bridge to wrap).

Used in-process by the tests, and as a process (``python ros2_test_controller.py --joints a b c``) by the
end-to-end test of ``roboos run``.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory

EXTRA_JOINT = "finger_joint"


class TestTrajectoryController:
    """Follows trajectories and publishes joint state, in its own rclpy context and spinning thread."""

    def __init__(
        self,
        joints: list[str],
        *,
        command_topic: str = "/joint_trajectory_controller/joint_trajectory",
        state_topic: str = "/joint_states",
        rate_hz: float = 100.0,
        initial: list[float] | None = None,
        node_name: str = "test_trajectory_controller",
    ) -> None:
        self.joints = list(joints)
        self.positions = np.array(initial if initial is not None else [0.0] * len(joints), dtype=np.float64)
        self.publishing = True
        self.enabled = False
        self.received: list[JointTrajectory] = []
        self.rejected = 0
        self._plan: tuple[float, np.ndarray, list[tuple[float, np.ndarray]]] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(node_name, context=self.context)
        self.node.create_subscription(JointTrajectory, command_topic, self._on_trajectory, 10)
        self._state_pub = self.node.create_publisher(JointState, state_topic, 10)
        self.node.create_service(SetBool, f"/{node_name}/enable", self._on_enable)
        self.node.create_timer(1.0 / rate_hz, self._tick)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # noqa: BLE001 - close() shut the context down under the executor
            pass

    def close(self) -> None:
        """Stop the node (idempotent): the controller disappears from the graph."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self._thread.join(2.0)

    def _on_enable(self, request: Any, response: Any) -> Any:
        self.enabled = bool(request.data)
        response.success, response.message = True, f"enabled={self.enabled}"
        return response

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        with self._lock:
            self.received.append(msg)
            if not msg.points:  # hold where we are
                self._plan = None
                return
            if set(msg.joint_names) - set(self.joints):
                self.rejected += 1
                return
            order = [list(msg.joint_names).index(j) if j in msg.joint_names else None for j in self.joints]
            points = []
            for point in msg.points:
                target = self._current(time.monotonic()).copy()
                for i, k in enumerate(order):
                    if k is not None:
                        target[i] = point.positions[k]
                t = point.time_from_start.sec + point.time_from_start.nanosec * 1e-9
                points.append((t, target))
            self._plan = (time.monotonic(), self._current(time.monotonic()).copy(), points)

    def _current(self, now: float) -> np.ndarray:
        if self._plan is None:
            return self.positions
        start, origin, points = self._plan
        t = now - start
        prev_t, prev = 0.0, origin
        for point_t, target in points:
            if t <= point_t:
                frac = 0.0 if point_t <= prev_t else (t - prev_t) / (point_t - prev_t)
                return prev + (target - prev) * frac
            prev_t, prev = point_t, target
        return prev

    def _tick(self) -> None:
        with self._lock:
            self.positions = self._current(time.monotonic())
            if self._plan is not None and time.monotonic() - self._plan[0] > self._plan[2][-1][0]:
                self._plan = None
            positions = self.positions.copy()
        if not self.publishing:
            return
        msg = JointState()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.name = [*reversed(self.joints), EXTRA_JOINT]
        msg.position = [*reversed(positions.tolist()), 0.01]
        self._state_pub.publish(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joints", nargs="+", required=True)
    parser.add_argument("--command-topic", default="/joint_trajectory_controller/joint_trajectory")
    parser.add_argument("--state-topic", default="/joint_states")
    args = parser.parse_args()
    controller = TestTrajectoryController(
        args.joints, command_topic=args.command_topic, state_topic=args.state_topic
    )
    print("controller ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.close()


if __name__ == "__main__":
    main()
