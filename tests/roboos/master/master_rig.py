"""Master test helpers: real sim robots' skill cards for planner tests, and a master with in-process edge
agents (each with its own ZeroMQ TCP connection on loopback) sharing one kinematic world."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from roboos.edge.agent import EdgeAgent
from roboos.edge.config import load_edge_config
from roboos.edge.robots import make_robots
from roboos.edge.runner import build_agents
from roboos.master.config import load_cloud_config
from roboos.master.master import Master
from roboos.master.models import RobotInfo, TaskEvent
from roboos.master.world import WorldModel
from roboos.sim.kinematic.scene import load_scene
from roboos.skills.card import SkillCard

FAST_CLOUD = ["bind=tcp://127.0.0.1:0", "control_plane.enabled=false", "heartbeat.interval_s=0.1",
              "heartbeat.timeout_s=0.6", "executor.wait_robot_s=0.5", "executor.timeout_margin_s=2", "memory.backend=local"]


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def household_robots(online: dict[str, bool] | None = None) -> list[RobotInfo]:
    """RobotInfo of the default edge config's robots, with the real skill cards and profiles."""
    config = load_edge_config()
    robots = make_robots(config.robots, scene=config.scene, time_scale=0)
    return [RobotInfo(name=r.name, embodiment=r.embodiment, online=(online or {}).get(r.name, True),
                      skills=[SkillCard.from_spec(s) for s in r.skills()], profile=r.profile())
            for r in robots]


def household_world() -> dict[str, Any]:
    return WorldModel(load_scene()).snapshot()


@dataclass
class MasterRig:
    master: Master
    agents: list[EdgeAgent]
    world: Any  # the edges' kinematic World (failure injection, ground truth)
    runs: dict[str, asyncio.Task[None]]

    def agent(self, name: str) -> EdgeAgent:
        return next(a for a in self.agents if a.name == name)

    async def kill_edge(self, name: str) -> None:
        """Stop one edge agent (it says BYE and disconnects its robot)."""
        await self.agent(name).stop()
        await asyncio.wait_for(self.runs[name], 10)

    async def run_task(self, instruction: str, timeout: float = 30.0) -> tuple[Any, list[TaskEvent]]:
        task_id = await self.master.submit(instruction)
        events: list[TaskEvent] = []

        async def collect() -> None:
            async for event in self.master.watch(task_id):
                events.append(event)

        await asyncio.wait_for(collect(), timeout)
        return self.master.get_task(task_id), events


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run_master(check: Callable[[MasterRig], Awaitable[None]], *, cloud: list[str] = (), time_scale: float = 0.0,
               planner: Any = None, timeout: float = 60.0, before_start: Callable[[Any], None] | None = None) -> None:
    """Start a master and the default sim edges, run ``check(rig)``, always shut everything down.

    ``before_start(config)`` runs after the config is loaded and before the master is built (e.g. to
    prepare its memory as a crashed cloud would have left it)."""

    async def main() -> None:
        config = load_cloud_config(overrides=[*FAST_CLOUD, *cloud])
        if before_start is not None:
            before_start(config)
        master = Master(config, planner=planner)
        await master.start()
        edge_cfg = load_edge_config(overrides=[f"cloud={master.channel.endpoint}", f"time_scale={time_scale}",
                                               "heartbeat.interval_s=0.1", "state_rate_hz=20"])
        worlds: dict[str, Any] = {}
        agents = build_agents(edge_cfg, worlds)
        runs = {a.name: asyncio.create_task(a.run()) for a in agents}
        rig = MasterRig(master, agents, next(iter(worlds.values())), runs)
        try:
            missing = await master.registry.wait_for([a.name for a in agents], 10)
            assert not missing, f"robots did not register: {missing}"
            await asyncio.wait_for(check(rig), timeout)
        finally:
            for agent in agents:
                await agent.stop()
            await asyncio.gather(*runs.values(), return_exceptions=True)
            await master.stop()

    asyncio.run(main())
