"""Fault-injection helpers: a master with the default sim edges connected through the lossy proxy, and a
count of every world-changing execution in the kinematic world (to prove nothing ran twice)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from roboos.edge.config import load_edge_config
from roboos.edge.runner import build_agents

from roboos.master.config import load_cloud_config
from roboos.master.master import Master
from roboos.reliability.proxy import Faults, LossyProxy

FAST_CLOUD = ["bind=tcp://127.0.0.1:0", "control_plane.enabled=false", "heartbeat.interval_s=0.1",
              "heartbeat.timeout_s=1.5", "executor.wait_robot_s=2", "executor.timeout_margin_s=2",
              "memory.backend=local", "dashboard.enabled=false"]
TASK = "put the toy block in the bin"


def count_executions(world: Any) -> Counter[tuple[str, str, str]]:
    """Wrap the world's commit methods: every successful pick / place / open is counted."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for name in ("commit_pick", "commit_place", "commit_open"):
        real = getattr(world, name)

        def wrapped(robot: str, target: str, *args: Any, _real=real, _name=name, **kw: Any) -> Any:
            out = _real(robot, target, *args, **kw)
            counts[(_name, robot, target)] += 1
            return out

        setattr(world, name, wrapped)
    return counts


async def until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run_through_proxy(faults: Faults, check: Callable[[Master, Any, Counter, LossyProxy], Awaitable[None]],
                      *, timeout: float = 90.0, cloud: list[str] = ()) -> None:
    """Master + default sim edges (time_scale 0) talking through a :class:`LossyProxy` with ``faults``
    (off while the robots register, on for ``check``)."""

    async def main() -> None:
        master = Master(load_cloud_config(overrides=[*FAST_CLOUD, *cloud]))
        await master.start()
        proxy = LossyProxy(master.channel.endpoint, faults)
        proxy.enabled = False
        with proxy:
            edge_cfg = load_edge_config(overrides=[f"cloud={proxy.endpoint}", "time_scale=0",
                                                   "heartbeat.interval_s=0.1", "state_rate_hz=10"])
            worlds: dict[str, Any] = {}
            agents = build_agents(edge_cfg, worlds)
            world = next(iter(worlds.values()))
            counts = count_executions(world)
            runs = [asyncio.create_task(a.run()) for a in agents]
            try:
                missing = await master.registry.wait_for([a.name for a in agents], 20)
                assert not missing, f"robots did not register: {missing}"
                proxy.enabled = True
                await asyncio.wait_for(check(master, world, counts, proxy), timeout)
            finally:
                proxy.enabled = False
                for agent in agents:
                    await agent.stop()
                await asyncio.gather(*runs, return_exceptions=True)
                await master.stop()

    asyncio.run(main())
