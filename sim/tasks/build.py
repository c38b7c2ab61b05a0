"""Build the MuJoCo world of a sampled episode, with the scene's robots."""

from __future__ import annotations

import numpy as np

from roboos.sim.mujoco.robots import MujocoArm, MujocoArmRobot, MujocoMobileManipulator
from roboos.sim.mujoco.world import MujocoWorld
from roboos.sim.tasks.spec import Episode


def build_world(episode: Episode, *, realtime: bool = False) -> tuple[MujocoWorld, list[MujocoArmRobot]]:
    """The world of an episode with its objects scattered (seeded) and the scene's robots."""
    world = MujocoWorld(episode.task.scene, list(episode.objects), realtime=realtime)
    world.scatter(episode.placements, np.random.default_rng([episode.seed, 7919]), drawers=episode.drawers)
    robots: list[MujocoArmRobot] = [
        MujocoArm(spec.name, world) if spec.kind == "arm" else MujocoMobileManipulator(spec.name, world)
        for spec in world.layout.robots]
    return world, robots
