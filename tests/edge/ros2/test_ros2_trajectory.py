"""Trajectory maths of the ROS 2 bridge (numpy only): moves, chunk blending, sampling, limits."""

from __future__ import annotations

import numpy as np
import pytest
from roboos.edge.ros2.trajectory import (
    TrajectoryPoint,
    as_joint_array,
    check_limits,
    chunk_to_points,
    min_jerk_points,
    move_duration,
    sample,
)


def test_min_jerk_move_rests_at_both_ends_and_respects_the_speed() -> None:
    start, goal = np.zeros(2), np.array([1.0, -0.5])
    duration = move_duration(start, goal, max_velocity=2.0, min_duration=0.1)
    points = min_jerk_points(start, goal, duration, rate_hz=100)
    np.testing.assert_allclose(points[-1].positions, goal)
    np.testing.assert_allclose(points[-1].velocities, 0.0, atol=1e-12)
    assert points[-1].t == pytest.approx(duration)
    peak = max(float(np.abs(p.velocities).max()) for p in points)
    assert peak == pytest.approx(2.0, rel=0.01)
    assert move_duration(start, start, 2.0, 0.25) == 0.25


def test_chunk_time_stamps_follow_the_policy_rate() -> None:
    chunk = np.linspace(0, 1, 10)[:, None] * np.ones((1, 3))
    points = chunk_to_points(chunk, 50.0, current_positions=np.zeros(3))
    assert [round(p.t, 6) for p in points] == [round(0.02 * k, 6) for k in range(1, 11)]
    np.testing.assert_allclose(points[-1].velocities, 0.0)  # comes to rest if no chunk follows
    assert all(np.all(p.velocities[:1] > 0) for p in points[:-1])  # moves through every other point


def test_chunk_boundary_is_smooth() -> None:
    """A new chunk arriving mid-motion continues the motion in progress instead of stopping or jumping."""
    rate, speed = 50.0, 1.0
    first = np.arange(1, 26)[:, None] * (speed / rate) * np.ones((1, 2))  # moving at 1 rad/s
    old = chunk_to_points(first, rate, current_positions=np.zeros(2))
    t_switch = 0.2
    pos, vel = sample(old, t_switch, np.zeros(2))
    assert vel[0] == pytest.approx(speed, rel=0.05)
    offset = 0.05  # the policy's new chunk disagrees a little with the old one
    second = pos + offset + np.arange(1, 26)[:, None] * (speed / rate) * np.ones((1, 2))
    blended = chunk_to_points(second, rate, current_positions=pos, current_velocities=vel, blend_steps=5)
    naive = chunk_to_points(second, rate, current_positions=pos)
    steps = np.diff(np.vstack([pos, *[p.positions for p in blended]]), axis=0)[:, 0]
    naive_steps = np.diff(np.vstack([pos, *[p.positions for p in naive]]), axis=0)[:, 0]
    nominal = speed / rate
    assert abs(steps[0] - nominal) < 0.3 * nominal  # continues at the current speed...
    assert abs(naive_steps[0] - nominal) > 2 * nominal  # ...where the raw chunk jumps by the offset
    assert np.all(steps > 0)  # never stops or backs up across the boundary
    assert np.max(np.abs(np.diff(steps))) < 0.5 * nominal  # no kink
    np.testing.assert_allclose(blended[-1].positions, second[-1])  # and ends where the policy wants
    assert blended[0].velocities[0] == pytest.approx(speed, rel=0.4)  # catching up the offset, smoothly


def test_sample_interpolates_and_holds_the_end() -> None:
    points = [TrajectoryPoint(1.0, np.array([1.0]), np.array([0.0]))]
    mid, _ = sample(points, 0.5, np.array([0.0]))
    assert mid[0] == pytest.approx(0.5)
    end, vel = sample(points, 5.0, np.array([0.0]))
    assert end[0] == 1.0 and vel[0] == 0.0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="expected shape"):
        chunk_to_points(np.zeros((3, 2)), 50, current_positions=np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        chunk_to_points(np.full((2, 3), np.nan), 50, current_positions=np.zeros(3))
    with pytest.raises(ValueError, match="rate"):
        chunk_to_points(np.zeros((2, 3)), 0, current_positions=np.zeros(3))
    with pytest.raises(ValueError, match="expected 3 values"):
        as_joint_array([1, 2], 3)
    with pytest.raises(ValueError, match="joint 'b' would go to 2.000"):
        check_limits(
            [TrajectoryPoint(0.1, np.array([0.0, 2.0]), np.zeros(2))], ["a", "b"], {"b": (-1.0, 1.0)}
        )
