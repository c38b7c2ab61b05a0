"""Edge-agent test helpers (imported by the tests here): a real CloudChannel on loopback and the default agents."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from roboos.channel import CloudChannel
from roboos.edge.agent import EdgeAgent
from roboos.edge.config import load_edge_config
from roboos.edge.runner import build_agents, run_agents
from roboos.protocol import Envelope, MsgType


@dataclass
class Rig:
    """A cloud channel, the agents connected to it and every message the cloud received."""

    cloud: CloudChannel
    agents: list[EdgeAgent]
    messages: list[Envelope] = field(default_factory=list)
    disconnects: list[tuple[str, str]] = field(default_factory=list)

    def agent(self, name: str) -> EdgeAgent:
        return next(a for a in self.agents if a.name == name)

    def states(self, robot: str) -> list[dict[str, Any]]:
        return [m.body["state"] for m in self.messages if m.type is MsgType.STATE and m.src == robot]

    async def call(self, robot: str, skill: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        env = await self.cloud.call(robot, {"skill": skill, "args": args}, timeout=timeout)
        return env.body


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def start_cloud(bind: str = "tcp://127.0.0.1:0") -> CloudChannel:
    return CloudChannel(bind, heartbeat_interval_s=0.1, heartbeat_timeout_s=1.0)


def all_connected(cloud: CloudChannel, names: list[str]) -> bool:
    links = cloud.links()
    return all(n in links and links[n].connected for n in names)


def run_rig(test: Callable[[Rig], Awaitable[None]], sets: tuple[str, ...] = (),
            prepare: Callable[[list[EdgeAgent]], None] | None = None) -> None:
    """Start a cloud and the default edge agents, run ``test``, then shut everything down."""

    async def main() -> None:
        cloud = start_cloud()
        rig = Rig(cloud=cloud, agents=[])

        async def on_message(env: Envelope) -> None:
            rig.messages.append(env)

        async def on_disconnect(robot: str, reason: str) -> None:
            rig.disconnects.append((robot, reason))

        cloud.on_message = on_message
        cloud.on_disconnect = on_disconnect
        await cloud.start()
        cfg = load_edge_config(None, [f"cloud={cloud.endpoint}", "time_scale=0", "state_rate_hz=50",
                                      "heartbeat.interval_s=0.1", "heartbeat.cloud_timeout_s=1.0", *sets])
        rig.agents = build_agents(cfg)
        if prepare is not None:
            prepare(rig.agents)
        runner = asyncio.create_task(run_agents(rig.agents, handle_signals=False))
        try:
            await wait_until(lambda: all_connected(cloud, [a.name for a in rig.agents]), what="registration")
            await test(rig)
        finally:
            for agent in rig.agents:
                await agent.stop()
            await asyncio.wait_for(runner, 10)
            await cloud.close()

    asyncio.run(asyncio.wait_for(main(), 60))
