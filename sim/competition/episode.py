"""One competition episode: build the world of a (task, seed), let an agent act, score it, keep pictures.

Agents:

* ``roboos`` — the full RoboOS stack: a :class:`~roboos.master.master.Master` (planner: the offline
  rule-based planner by default, or an OpenAI-compatible LLM) and one :class:`~roboos.edge.agent.EdgeAgent`
  per MuJoCo robot, talking over the real ZeroMQ channel on loopback; the instruction goes in, skills run
  on the physics, the task's predicates decide success.
* ``policy`` — a VLA policy served over the openpi websocket or the RoboOS ZeroMQ policy protocol,
  driving the gymnasium environment (see :mod:`roboos.sim.competition.policy_agent`).
"""

from __future__ import annotations

import asyncio
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from roboos.sim.kinematic.scene import StationConfig
from roboos.sim.mujoco.robots import MujocoArmRobot
from roboos.sim.mujoco.scene_io import scene_of
from roboos.sim.mujoco.world import MujocoWorld
from roboos.sim.tasks.build import build_world
from roboos.sim.tasks.predicates import evaluate
from roboos.sim.tasks.spec import Episode, TaskSpec, sample_episode

FRAME_SIZE = (320, 240)


@dataclass
class EpisodeResult:
    """What one episode produced (one JSON file per episode)."""

    suite: str
    task: str
    tier: int
    seed: int
    agent: str
    instruction: str
    success: bool = False
    reason: str = ""
    sim_steps: int = 0
    sim_time_s: float = 0.0
    wall_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    plan_steps: int = 0
    replans: int = 0
    crashed: bool = False
    frames: list[str] = field(default_factory=list)
    video: str | None = None
    final_state: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def episode_id(self) -> str:
        return f"{self.task}__seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def versions() -> dict[str, str]:
    """Library versions recorded with every result, so it can be reproduced."""
    import mujoco

    from roboos import __version__

    return {"roboos": __version__, "mujoco": mujoco.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


class FrameRecorder:
    """Key frames of an episode (overview camera): start, after every skill or policy chunk, end."""

    def __init__(self, world: MujocoWorld, out_dir: Path | None, episode_id: str, every: int = 1) -> None:
        self.world, self.out_dir, self.episode_id, self.every = world, out_dir, episode_id, every
        self.frames: list[np.ndarray] = []
        self._count = 0

    def capture(self, force: bool = False) -> None:
        self._count += 1
        if self.out_dir is None or (not force and self._count % self.every):
            return
        self.frames.append(self.world.render(None, *FRAME_SIZE))

    def save(self, gif: bool) -> tuple[list[str], str | None]:
        if self.out_dir is None or not self.frames:
            return [], None
        import imageio.v3 as iio

        frames_dir = self.out_dir / "frames"
        frames_dir.mkdir(parents=True, exist_ok=True)
        keep = [self.frames[0], self.frames[-1]] if len(self.frames) > 1 else self.frames
        names = []
        for label, frame in zip(("start", "end"), keep):
            path = frames_dir / f"{self.episode_id}_{label}.png"
            iio.imwrite(path, frame)
            names.append(str(path.relative_to(self.out_dir)))
        video = None
        if gif and len(self.frames) > 1:
            path = frames_dir / f"{self.episode_id}.gif"
            iio.imwrite(path, np.stack(self.frames), duration=400, loop=0)
            video = str(path.relative_to(self.out_dir))
        return names, video


async def run_roboos_agent(episode: Episode, world: MujocoWorld, robots: list[MujocoArmRobot],
                           recorder: FrameRecorder, *, planner: str = "offline",
                           cloud_overrides: tuple[str, ...] = (), wall_timeout_s: float = 300.0) -> dict[str, Any]:
    """Run the instruction through a real Master + EdgeAgents over loopback; returns record fields."""
    from roboos.config import apply_overrides, validate
    from roboos.edge.agent import EdgeAgent
    from roboos.master.config import CloudConfig
    from roboos.master.master import Master

    stations = {r.name: StationConfig(at=r.location() or r.reach()[0], reach=r.reach()) if not r.mobile
                else StationConfig(at=r.location() or "dock") for r in robots}
    scene = scene_of(world, stations)
    with tempfile.TemporaryDirectory(prefix="roboos-episode-") as tmp:
        scene_path = Path(tmp) / "scene.yaml"
        scene_path.write_text(yaml.safe_dump(scene.model_dump(mode="json"), sort_keys=False))
        data = apply_overrides({"name": "sim-cloud", "scene": str(scene_path), "bind": "tcp://127.0.0.1:0",
                                "control_plane": {"enabled": False},
                                "heartbeat": {"interval_s": 0.25, "timeout_s": 5.0},
                                "memory": {"backend": "local", "history": {"enabled": False}},
                                "planner": {"kind": planner}}, cloud_overrides)
        config = validate(CloudConfig, data, "sim cloud config")
        master = Master(config)
        await master.start()
        agents = [EdgeAgent(r, master.channel.endpoint, state_rate_hz=4.0, heartbeat_interval_s=0.25,
                            cloud_timeout_s=5.0) for r in robots]
        for agent in agents:
            agent.add_result_listener(lambda call, result: recorder.capture())
        runners = []
        try:
            for agent in agents:
                await agent.start()
                runners.append(asyncio.create_task(agent.run()))
            deadline = time.monotonic() + 20
            while not all(master.registry.is_online(r.name) for r in robots):
                if time.monotonic() > deadline:
                    raise RuntimeError("the episode's robots did not register with the master")
                await asyncio.sleep(0.02)
            task_id = await master.submit(episode.instruction)
            try:
                record = await master.wait(task_id, timeout=wall_timeout_s)
            except (asyncio.TimeoutError, TimeoutError):
                await master.cancel(task_id)
                record = await master.wait(task_id, timeout=30)
                record = record.model_copy(update={"reason": f"wall-clock limit of {wall_timeout_s:g} s reached"})
        finally:
            for agent in agents:
                await agent.stop()
            await asyncio.gather(*runners, return_exceptions=True)
            await master.stop()
    plan = record.plan
    return {"task_status": record.status.value if hasattr(record.status, "value") else str(record.status),
            "task_reason": record.reason, "prompt_tokens": plan.prompt_tokens if plan else 0,
            "completion_tokens": plan.completion_tokens if plan else 0,
            "plan_steps": len(plan.steps) if plan else 0, "replans": record.replans}


def run_episode(suite: str, task: TaskSpec, seed: int, *, agent: str = "roboos", out_dir: Path | None = None,
                gif: bool = False, agent_options: dict[str, Any] | None = None) -> EpisodeResult:
    """Sample, run and score one episode (in this process)."""
    options = dict(agent_options or {})
    episode = sample_episode(task, seed)
    result = EpisodeResult(suite=suite, task=task.name, tier=task.tier, seed=seed, agent=agent,
                           instruction=episode.instruction, versions=versions())
    started = time.perf_counter()
    world, robots = build_world(episode)
    try:
        steps0, time0 = world.steps, world.time
        start_z = {name: float(world.object_pos(name)[2]) for name in world.objects}
        recorder = FrameRecorder(world, out_dir, result.episode_id, every=int(options.pop("frame_every", 1)))
        recorder.capture(force=True)
        if agent == "roboos":
            info = asyncio.run(run_roboos_agent(episode, world, robots, recorder, **options))
        elif agent == "policy":
            from roboos.sim.competition.policy_agent import run_policy_agent

            info = run_policy_agent(episode, world, robots, recorder, start_z=start_z, **options)
        else:
            raise ValueError(f"unknown agent '{agent}' (roboos or policy)")
        recorder.capture(force=True)
        result.sim_steps, result.sim_time_s = world.steps - steps0, round(world.time - time0, 3)
        for key in ("prompt_tokens", "completion_tokens", "plan_steps", "replans"):
            setattr(result, key, int(info.get(key, 0)))
        ok, failing = evaluate(task.success, world, episode.bindings, start_z)
        if ok and result.sim_time_s > task.time_limit_s:
            ok, failing = False, [f"took {result.sim_time_s:.1f} s of simulated time (limit {task.time_limit_s:g} s)"]
        result.success = ok
        status = info.get("task_status")
        result.reason = "success" if ok else "; ".join(
            failing + ([f"task {status}: {info.get('task_reason')}"] if status and status != "succeeded" else []))
        result.final_state = world.snapshot()
        result.frames, result.video = recorder.save(gif)
    finally:
        world.close()
    result.wall_s = round(time.perf_counter() - started, 3)
    return result
