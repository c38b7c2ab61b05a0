"""The gymnasium environment: spaces, seeded determinism, a scripted IK controller that succeeds."""

from __future__ import annotations

import math

import importlib

import gymnasium as gym
import numpy as np

importlib.import_module("roboos.sim.mujoco.env")  # registers RoboOS/Sim-v0


def make(**kwargs):
    return gym.make("RoboOS/Sim-v0", task="pick_up", image_size=64, **kwargs)


def test_spaces_and_seeded_determinism() -> None:
    env = make()
    try:
        obs_a, info_a = env.reset(seed=5)
        obs_b, info_b = env.reset(seed=5)
        assert env.observation_space.contains(obs_a)
        assert info_a == info_b and obs_a["instruction"].startswith("pick up the ")
        assert np.array_equal(obs_a["image"], obs_b["image"]) and np.array_equal(obs_a["state"], obs_b["state"])
        action = np.array([0.2, 0.3, 1.6, 0.0, 1.2, 0.0, 0.0], dtype=np.float32)
        steps_a = [env.step(action)[0]["state"] for _ in range(3)]
        env.reset(seed=5)
        steps_b = [env.step(action)[0]["state"] for _ in range(3)]
        assert all(np.array_equal(a, b) for a, b in zip(steps_a, steps_b))
        _, reward, terminated, truncated, info = env.step(action)
        assert reward == 0.0 and not terminated and not truncated and info["sim_time"] > 0
    finally:
        env.close()


def test_a_scripted_ik_controller_picks_up_the_target() -> None:
    env = make(control_hz=5.0)
    try:
        _, info = env.reset(seed=1)
        inner = env.unwrapped
        world, kin = inner.world, inner.robot.kin
        target = world.object_pos(info["bindings"]["target"])
        yaw = inner.robot._grasp_yaw(info["bindings"]["target"], target[:2])
        q = None

        def go(pos, grip: float, steps: int) -> tuple[float, bool]:
            nonlocal q
            q = kin.solve(world.data, np.asarray(pos), yaw, q_init=q)
            reward, done = 0.0, False
            for _ in range(steps):
                _, reward, done, _, _ = env.step(np.concatenate([q, [grip]]).astype(np.float32))
            return reward, done

        go(target + [0, 0, 0.12], 0.0, 4)
        go(target, 0.0, 3)
        go(target, 1.0, 2)
        reward, done = go(target + [0, 0, 0.15], 1.0, 3)
        assert done and reward == 1.0 and not math.isnan(reward)
    finally:
        env.close()
