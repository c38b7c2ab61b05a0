"""Safety watchdog: a sim robot is stopped when the cloud process dies mid-motion, and the stop is
reported once a cloud is back."""

from __future__ import annotations

import asyncio
import time

from roboos.edge.agent import EdgeAgent
from roboos.edge.config import RobotConfig
from roboos.edge.robots import make_robot
from roboos.edge.watchdog import attach_watchdog


def test_watchdog_stops_robot_when_cloud_dies_mid_skill_and_reports_later(tcp_endpoint: str) -> None:
    from roboos.bench.watchdog import watchdog_trial

    r = asyncio.run(watchdog_trial(tcp_endpoint, motion_timeout_s=0.2, link_timeout_s=5.0))
    assert r["skills"] == ["navigate"] and r["robot_status"] in ("stopped", "idle")
    assert r["stop_after_kill_s"] < 2.0  # far below the 5 s link timeout: it was the watchdog
    assert r["event"]["kind"] == "watchdog_stop" and r["event"]["data"]["skills"] == ["navigate"] and r["reported"]
    print(f"watchdog: robot stopped {r['stop_after_kill_s'] * 1000:.0f} ms after the cloud was killed "
          f"(silence at trip {r['silence_at_trip_s'] * 1000:.0f} ms)")


async def _until(pred, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


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
