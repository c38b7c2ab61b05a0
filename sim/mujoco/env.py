"""Gymnasium environments over the task suites, for policy work (``gymnasium.make("RoboOS/Sim-v0")``).

Observation (``Dict``): ``image`` (overview camera) and ``wrist_image`` (uint8, S x S x 3), ``state``
(float32: 6 joint angles + finger opening) and ``instruction`` (text). Action (``Box(7)``): absolute
targets of the 6 arm joints (rad) and the gripper command in [0, 1] (1 = closed). Each step holds the
targets for ``1 / control_hz`` s of simulated time. A closing gripper whose fingers both touch an object
engages the grasp weld (as the skills do). Reward 1 and ``terminated`` when the task's predicates hold;
``truncated`` at the task's time limit. Same seed -> same episode and the same physics.
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from roboos.sim.mujoco import mjcf
from roboos.sim.mujoco.robots import MujocoArmRobot
from roboos.sim.mujoco.world import MujocoWorld
from roboos.sim.tasks.build import build_world
from roboos.sim.tasks.predicates import evaluate
from roboos.sim.tasks.spec import Episode, TaskSpec, load_suite, sample_episode

ENV_ID = "RoboOS/Sim-v0"
_CHUNK = 10


class RoboOSSimEnv(gym.Env):
    """One task of a suite as a gymnasium environment controlling one arm (the first, by default)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, suite: str = "standard", task: str | TaskSpec = "pick_up", *, image_size: int = 224,
                 control_hz: float = 10.0, robot: str | None = None, render_mode: str | None = "rgb_array") -> None:
        self.task: TaskSpec = task if isinstance(task, TaskSpec) else load_suite(suite).task(task)
        self.image_size, self.control_hz, self.robot_name = image_size, control_hz, robot
        self.render_mode = render_mode
        low = np.array([-3.14, -2.2, -2.7, -3.14, -2.4, -3.14, 0.0], dtype=np.float32)
        high = np.array([3.14, 2.2, 2.7, 3.14, 2.4, 3.14, 1.0], dtype=np.float32)
        self.action_space = spaces.Box(low, high, dtype=np.float32)
        image = spaces.Box(0, 255, (image_size, image_size, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict({
            "image": image, "wrist_image": image,
            "state": spaces.Box(-np.inf, np.inf, (7,), dtype=np.float32),
            "instruction": spaces.Text(max_length=512, charset=string.printable),
        })
        self.world: MujocoWorld | None = None
        self.robot: MujocoArmRobot | None = None
        self.episode: Episode | None = None
        self._owns_world = True
        self._t0 = 0.0
        self._start_z: dict[str, float] = {}

    # ------------------------------------------------------------------------------------- set-up
    @classmethod
    def attach(cls, episode: Episode, world: MujocoWorld, robots: list[MujocoArmRobot], *,
               robot: str | None = None, **kwargs: Any) -> RoboOSSimEnv:
        """An environment over an already built episode world (the competition's policy agent)."""
        env = cls(task=episode.task, robot=robot, **kwargs)
        env._use(episode, world, robots, owns=False)
        return env

    def _use(self, episode: Episode, world: MujocoWorld, robots: list[MujocoArmRobot], owns: bool) -> None:
        self.episode, self.world, self._owns_world = episode, world, owns
        arms = [r for r in robots if self.robot_name in (None, r.name)]
        if not arms:
            raise ValueError(f"no robot '{self.robot_name}' in scene '{episode.task.scene}'")
        self.robot = arms[0]
        self._t0 = world.time
        self._start_z = {n: float(world.object_pos(n)[2]) for n in world.objects}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # noqa: ANN201
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        self.close()
        episode = sample_episode(self.task, episode_seed)
        world, robots = build_world(episode)
        self._use(episode, world, robots, owns=True)
        return self.observation(), self._info()

    # ------------------------------------------------------------------------------------ stepping
    def step(self, action: np.ndarray):  # noqa: ANN201
        assert self.world is not None and self.robot is not None, "call reset() first"
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[:7], self.action_space.low, self.action_space.high)
        world, kin = self.world, self.robot.kin
        closing = a[6] > 0.5
        with world.lock:
            world.data.ctrl[kin.actuators] = a[:6]
            world.data.ctrl[kin.gripper_actuator] = (1.0 - a[6]) * mjcf.FINGER_OPEN
        steps = max(_CHUNK, int(round(1.0 / self.control_hz / world.model.opt.timestep)))
        for _ in range(steps // _CHUNK):
            world.step(_CHUNK)
            self.robot.assist_grasp(closing)
        success = self.success()
        truncated = (world.time - self._t0) >= self.task.time_limit_s
        return self.observation(), float(success), success, bool(truncated and not success), self._info()

    def success(self) -> bool:
        assert self.world is not None and self.episode is not None
        return evaluate(self.task.success, self.world, self.episode.bindings, self._start_z)[0]

    def observation(self) -> dict[str, Any]:
        assert self.world is not None and self.robot is not None and self.episode is not None
        world, kin, s = self.world, self.robot.kin, self.image_size
        with world.lock:
            state = np.concatenate([world.data.qpos[kin.qpos_adr], [world.data.qpos[kin.finger_qpos]]])
        return {"image": world.render(None, s, s), "wrist_image": world.render(f"{self.robot.prefix}wrist_cam", s, s),
                "state": state.astype(np.float32), "instruction": self.episode.instruction}

    def _info(self) -> dict[str, Any]:
        assert self.episode is not None and self.world is not None
        return {"instruction": self.episode.instruction, "task": self.task.name, "seed": self.episode.seed,
                "bindings": dict(self.episode.bindings), "sim_time": round(self.world.time - self._t0, 3)}

    def render(self) -> np.ndarray | None:
        if self.world is None:
            return None
        return self.world.render(None, 640, 480)

    def close(self) -> None:
        if self.world is not None and self._owns_world:
            self.world.close()
        self.world = None


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="roboos.sim.mujoco.env:RoboOSSimEnv")
