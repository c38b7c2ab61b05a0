"""``roboos bench watchdog``: how fast the edge stops a moving robot when the cloud process dies.

Each trial: a sim mobile manipulator (edge agent + safety watchdog in this process) starts a long drive
commanded by a cloud in its own process; the cloud is SIGKILLed mid-drive; we time ``Robot.stop()``
from the kill. Then a new cloud starts on the same endpoint and we time until the agent has re-registered
and reported the ``watchdog_stop`` event. The link timeout is set far above the watchdog's, so every stop
measured is the watchdog's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from roboos.bench.channel_procs import ServerProcess

CLOUD = "roboos.bench.watchdog_cloud"


async def _until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def _read_line(proc: ServerProcess, prefix: str, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    assert proc.proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(loop.run_in_executor(None, proc.proc.stdout.readline), timeout)
        if line.startswith(prefix):
            return line[len(prefix):].strip()
        if not line:
            break
    raise TimeoutError(f"the cloud process printed no {prefix!r}")


async def watchdog_trial(endpoint: str, motion_timeout_s: float = 0.2, link_timeout_s: float = 5.0) -> dict[str, Any]:
    """One kill-the-cloud trial; returns the stop latency, the silence at the trip and the report delay."""
    from roboos.edge.agent import EdgeAgent
    from roboos.edge.config import RobotConfig
    from roboos.edge.robots import make_robot
    from roboos.edge.watchdog import WatchdogConfig, attach_watchdog

    loop = asyncio.get_running_loop()
    robot = make_robot(RobotConfig(name="rover1", kind="sim_mobile_manipulator", options={"speed_m_s": 0.5}),
                       time_scale=1.0)
    stops: list[float] = []
    real_stop = robot.stop

    def stop() -> None:
        stops.append(time.monotonic())
        real_stop()

    robot.stop = stop  # type: ignore[method-assign]
    agent = EdgeAgent(robot, endpoint, heartbeat_interval_s=0.1, cloud_timeout_s=link_timeout_s)
    dog = attach_watchdog(agent, WatchdogConfig(motion_timeout_s=motion_timeout_s))
    runner = asyncio.create_task(agent.run())
    clouds: list[ServerProcess] = []
    try:
        clouds.append(await loop.run_in_executor(None, lambda: ServerProcess(
            CLOUD, endpoint, "rover1", "navigate", "coffee_table")))
        await _read_line(clouds[0], "REGISTERED", 30)
        await _until(lambda: any(c.body.skill == "navigate" for c in agent.running.values()), 10, "navigate")
        await asyncio.sleep(0.3)  # mid-drive, the watchdog pinging
        if stops:
            raise RuntimeError("the robot stopped before the cloud was killed")
        clouds[0].proc.kill()
        killed = time.monotonic()
        await _until(lambda: bool(stops), 5, "the watchdog stop")
        await _until(lambda: not agent.running, 5, "the drive to end")
        await loop.run_in_executor(None, clouds[0].close)
        back = time.monotonic()
        clouds.append(await loop.run_in_executor(None, lambda: ServerProcess(CLOUD, endpoint, "rover1", "-", "-")))
        event = json.loads(await _read_line(clouds[1], "EVENT ", 30))
        return {"stop_after_kill_s": stops[0] - killed, "silence_at_trip_s": dog.trips[0].silence_s,
                "skills": dog.trips[0].skills, "event": event, "report_after_restart_s": time.monotonic() - back,
                "robot_status": robot.get_state().status, "reported": dog.trips[0].reported}
    finally:
        await agent.stop()
        await asyncio.wait_for(runner, 10)
        await dog.stop()
        for proc in clouds:
            await loop.run_in_executor(None, proc.close)


def run_watchdog_bench(trials: int, motion_timeout_s: float, endpoint_for: Callable[[], str],
                       progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """``trials`` trials, each on a fresh endpoint; summary in milliseconds."""
    import numpy as np

    from roboos.bench import machine_info, utc_now

    results = []
    for _ in range(trials):
        results.append(asyncio.run(watchdog_trial(endpoint_for(), motion_timeout_s)))
        if progress:
            progress()
    stop_ms = np.array([r["stop_after_kill_s"] for r in results]) * 1e3
    return {
        "bench": "watchdog", "date": utc_now(), "machine": machine_info(("pyzmq", "numpy")),
        "motion_timeout_s": motion_timeout_s, "trials": results,
        "stop_after_kill_ms": {"p50": float(np.percentile(stop_ms, 50)), "max": float(stop_ms.max()),
                               "min": float(stop_ms.min())},
    }
