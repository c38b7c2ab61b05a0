"""Safety watchdog: a sim robot is stopped when the cloud process dies mid-motion, and the stop is
reported once a cloud is back."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from roboos.bench.channel_procs import ServerProcess
from roboos.edge.agent import EdgeAgent
from roboos.edge.config import RobotConfig
from roboos.edge.robots import make_robot
from roboos.edge.watchdog import WatchdogConfig, attach_watchdog

CLOUD = str(Path(__file__).with_name("watchdog_cloud.py"))


async def _until(pred, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def _read_line(proc: ServerProcess, prefix: str, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(loop.run_in_executor(None, proc.proc.stdout.readline), timeout)
        if line.startswith(prefix):
            return line[len(prefix):].strip()
        if not line:
            break
    raise AssertionError(f"cloud process printed no {prefix!r}")


def test_watchdog_stops_robot_when_cloud_dies_mid_skill_and_reports_later(tcp_endpoint: str) -> None:
    async def main() -> dict:
        loop = asyncio.get_running_loop()
        robot = make_robot(RobotConfig(name="rover1", kind="sim_mobile_manipulator", options={"speed_m_s": 0.5}),
                           time_scale=1.0)
        stops: list[float] = []
        real_stop = robot.stop

        def stop() -> None:
            stops.append(time.monotonic())
            real_stop()

        robot.stop = stop  # type: ignore[method-assign]
        # cloud_timeout_s=5: only the watchdog (200 ms during motion) can stop the robot this fast
        agent = EdgeAgent(robot, tcp_endpoint, heartbeat_interval_s=0.1, cloud_timeout_s=5.0)
        dog = attach_watchdog(agent, WatchdogConfig(motion_timeout_s=0.2))
        runner = asyncio.create_task(agent.run())
        cloud = await loop.run_in_executor(None, lambda: ServerProcess(
            CLOUD, tcp_endpoint, "rover1", "navigate", "coffee_table"))
        cloud2 = None
        try:
            await _read_line(cloud, "REGISTERED", 30)
            await _until(lambda: any(c.body.skill == "navigate" for c in agent.running.values()), 10, "navigate")
            await asyncio.sleep(0.3)  # mid-motion, watchdog pinging
            assert not stops
            cloud.proc.kill()
            killed = time.monotonic()
            await _until(lambda: bool(stops), 5, "watchdog stop")
            stop_after = stops[0] - killed
            await _until(lambda: not agent.running, 5, "the navigate call to end")
            assert robot.get_state().status in ("stopped", "idle") and dog.trips
            assert dog.trips[0].skills == ["navigate"] and not dog.trips[0].reported
            assert stop_after < 2.0  # far below the 5 s link timeout: it was the watchdog
            # a cloud comes back: the agent re-registers and reports the stop
            await loop.run_in_executor(None, cloud.close)
            cloud2 = await loop.run_in_executor(None, lambda: ServerProcess(CLOUD, tcp_endpoint, "rover1", "-", "-"))
            event = json.loads(await _read_line(cloud2, "EVENT ", 30))
            assert event["kind"] == "watchdog_stop" and event["data"]["skills"] == ["navigate"]
            assert dog.trips[0].reported and agent.connected
            return {"stop_after_kill_s": stop_after, "silence_s": dog.trips[0].silence_s}
        finally:
            await agent.stop()
            await asyncio.wait_for(runner, 10)
            await dog.stop()
            for proc in (cloud, cloud2):
                if proc is not None:
                    await loop.run_in_executor(None, proc.close)

    figures = asyncio.run(main())
    print(f"watchdog: robot stopped {figures['stop_after_kill_s'] * 1000:.0f} ms after the cloud was killed "
          f"(silence at trip {figures['silence_s'] * 1000:.0f} ms)")


def test_link_down_while_idle_stops_and_shutdown_does_not_trip(tcp_endpoint: str) -> None:
    from roboos.channel import CloudChannel

    async def main() -> None:
        cloud = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.05)
        await cloud.start()
        robot = make_robot(RobotConfig(name="arm1", kind="sim_arm"), time_scale=0)
        agent = EdgeAgent(robot, tcp_endpoint, heartbeat_interval_s=0.05, cloud_timeout_s=0.3)
        dog = attach_watchdog(agent)
        runner = asyncio.create_task(agent.run())
        try:
            await _until(lambda: agent.connected, 10, "registration")
            await cloud.close()  # BYE: the link goes down while the robot is idle
            await _until(lambda: bool(dog.trips), 5, "stop on link down")
            assert dog.trips[0].reason == "cloud link down" and dog.trips[0].skills == []
            cloud = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.05)
            await cloud.start()
            await _until(lambda: dog.trips[0].reported, 10, "report after reconnect")
        finally:
            await agent.stop()
            await asyncio.wait_for(runner, 10)
            await dog.stop()
            await cloud.close()
        assert len(dog.trips) == 1  # the agent's own shutdown is not a watchdog stop

    asyncio.run(main())
