"""Typed errors of the ROS 2 bridge (all :class:`~roboos.robot.RobotError`: skills report failures)."""

from __future__ import annotations

from roboos.robot import RobotError


class Ros2BridgeError(RobotError):
    """Base class of the bridge's errors."""


class Ros2Unavailable(Ros2BridgeError):
    """rclpy or a message package is missing: install ``roboos[ros]`` or source a ROS 2 installation."""


class StaleJointStateError(Ros2BridgeError):
    """No (complete) joint state arrived within the configured time: motion is blocked."""


class UnknownJointError(Ros2BridgeError, ValueError):
    """A command named joints the robot does not have."""


class ControllerUnavailableError(Ros2BridgeError):
    """No trajectory controller listens (it never started, crashed or is restarting)."""


class TrajectoryFailedError(Ros2BridgeError):
    """The controller did not reach the goal (in time / within tolerance), or rejected the trajectory."""
