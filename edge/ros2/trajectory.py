"""Joint-space trajectories for the ROS 2 bridge (numpy only): point-to-point moves and VLA action chunks.

A controller (ros2_control's ``joint_trajectory_controller``) interpolates between the points it gets:
cubic splines when points carry velocities. Velocities are therefore always given, so the arm moves
through intermediate points instead of stopping at each one.

Action chunks: a VLA policy emits ``T`` joint targets at its rate; a new chunk usually arrives while the
previous one still runs and *replaces* it. :func:`chunk_to_points` starts the new trajectory from the
motion in progress (position and velocity sampled from the running trajectory) and cross-fades its
first ``blend_steps`` points from "keep moving as now" into the new chunk, so the arm neither stops nor
jumps at chunk boundaries. The last point has zero velocity: if no new chunk comes, the arm comes to
rest at the chunk's end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrajectoryPoint:
    """One waypoint: ``t`` seconds after the trajectory starts, joint positions and velocities."""

    t: float
    positions: np.ndarray
    velocities: np.ndarray


def as_joint_array(
    values: Sequence[float] | np.ndarray, n_joints: int, what: str = "positions"
) -> np.ndarray:
    """A finite float64 vector of length ``n_joints`` (``ValueError`` naming ``what`` otherwise)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n_joints,):
        raise ValueError(f"{what}: expected {n_joints} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: values must be finite")
    return arr


def move_duration(start: np.ndarray, goal: np.ndarray, max_velocity: float, min_duration: float) -> float:
    """Duration of a minimum-jerk move whose peak joint speed is ``max_velocity`` (peak = 1.875 · Δ / T)."""
    distance = float(np.max(np.abs(goal - start))) if start.size else 0.0
    return max(min_duration, 1.875 * distance / max_velocity)


def min_jerk_points(
    start: np.ndarray, goal: np.ndarray, duration_s: float, rate_hz: float
) -> list[TrajectoryPoint]:
    """A minimum-jerk (quintic) move from ``start`` to ``goal`` sampled at ``rate_hz``; rests at both ends."""
    if duration_s <= 0:
        raise ValueError(f"duration must be positive, got {duration_s}")
    n = max(1, math.ceil(duration_s * rate_hz))
    delta = goal - start
    points = []
    for k in range(1, n + 1):
        s = k / n
        shape = 10 * s**3 - 15 * s**4 + 6 * s**5
        rate = (30 * s**2 - 60 * s**3 + 30 * s**4) / duration_s
        points.append(
            TrajectoryPoint(t=duration_s * s, positions=start + delta * shape, velocities=delta * rate)
        )
    return points


def chunk_to_points(
    chunk: np.ndarray,
    rate_hz: float,
    *,
    current_positions: np.ndarray,
    current_velocities: np.ndarray | None = None,
    blend_steps: int = 5,
) -> list[TrajectoryPoint]:
    """One trajectory for an action chunk ``(T, J)`` with time stamps ``1/rate_hz, 2/rate_hz, …``.

    ``current_positions``/``current_velocities``: where the arm is commanded to be *now* (sampled from the
    trajectory in progress, see :func:`sample`); without velocities (arm at rest) no blending is needed.
    """
    chunk = np.asarray(chunk, dtype=np.float64)
    if chunk.ndim != 2 or chunk.shape[0] < 1 or chunk.shape[1] != current_positions.shape[0]:
        raise ValueError(f"action chunk: expected shape (T, {current_positions.shape[0]}), got {chunk.shape}")
    if not np.all(np.isfinite(chunk)):
        raise ValueError("action chunk: values must be finite")
    if rate_hz <= 0:
        raise ValueError(f"rate must be positive, got {rate_hz}")
    dt = 1.0 / rate_hz
    times = dt * np.arange(1, chunk.shape[0] + 1)
    targets = chunk.copy()
    if current_velocities is not None and blend_steps > 0:
        k = min(blend_steps, chunk.shape[0])
        carry_on = current_positions + np.outer(times[:k], current_velocities)  # keep moving as now
        weights = 0.5 * (1.0 - np.cos(np.pi * np.arange(1, k + 1) / (k + 1)))  # 0 -> 1, smooth at both ends
        targets[:k] = (1.0 - weights)[:, None] * carry_on + weights[:, None] * chunk[:k]
    with_start = np.vstack([current_positions, targets])
    velocities = np.gradient(with_start, np.concatenate([[0.0], times]), axis=0)[1:]
    velocities[-1] = 0.0
    rows = zip(times, targets, velocities, strict=True)
    return [TrajectoryPoint(t=float(t), positions=p, velocities=v) for t, p, v in rows]


def sample(
    points: Sequence[TrajectoryPoint],
    t: float,
    start_positions: np.ndarray,
    start_velocities: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Position and velocity at ``t`` of the cubic-Hermite trajectory ``points`` from ``start_positions``."""
    v0 = np.zeros_like(start_positions) if start_velocities is None else start_velocities
    prev_t, prev_p, prev_v = 0.0, start_positions, v0
    for point in points:
        if t <= point.t:
            h = point.t - prev_t
            if h <= 0:
                return point.positions.copy(), point.velocities.copy()
            s = (t - prev_t) / h
            h00, h10, h01, h11 = (
                2 * s**3 - 3 * s**2 + 1,
                s**3 - 2 * s**2 + s,
                -2 * s**3 + 3 * s**2,
                s**3 - s**2,
            )
            pos = h00 * prev_p + h10 * h * prev_v + h01 * point.positions + h11 * h * point.velocities
            d00, d10, d01, d11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
            vel = (d00 * prev_p + d01 * point.positions) / h + d10 * prev_v + d11 * point.velocities
            return pos, vel
        prev_t, prev_p, prev_v = point.t, point.positions, point.velocities
    return prev_p.copy(), np.zeros_like(prev_p)


def check_limits(
    points: list[TrajectoryPoint], joints: Sequence[str], limits: dict[str, tuple[float, float]]
) -> None:
    """Refuse points outside joint position limits (``ValueError`` naming the joint, value and limit)."""
    for index, joint in enumerate(joints):
        if joint not in limits:
            continue
        low, high = limits[joint]
        for point in points:
            value = float(point.positions[index])
            if not low - 1e-9 <= value <= high + 1e-9:
                raise ValueError(
                    f"joint '{joint}' would go to {value:.3f}, outside its limits [{low}, {high}]"
                )
