"""``roboos edge`` as a separate process: registers both robots, serves calls, exits 0 on SIGINT."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from edge_rig import all_connected, start_cloud, wait_until

EDGE = [sys.executable, "-m", "roboos.cli.main", "edge"]


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_roboos_edge_process_serves_and_stops_cleanly(processes) -> None:
    async def main() -> None:
        cloud = start_cloud()
        await cloud.start()
        try:
            proc = subprocess.Popen([*EDGE, "--cloud", cloud.endpoint, "--time-scale", "0"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            processes.append(proc)
            await wait_until(lambda: all_connected(cloud, ["arm1", "rover1"]) or proc.poll() is not None,
                             timeout=30, what="both robots to register")
            assert proc.poll() is None, proc.communicate()[1]
            reply = await cloud.call("rover1", {"skill": "navigate", "args": {"target": "sink"}})
            assert reply.body["ok"] and reply.body["value"]["arrived"] == "sink"
            proc.send_signal(signal.SIGINT)
            await wait_until(lambda: proc.poll() is not None, timeout=15, what="edge exit")
            out, err = proc.communicate()
            assert proc.returncode == 0, err
            assert "edge agents stopped" in err
            await wait_until(lambda: not any(link.connected for link in cloud.links().values()), what="BYE")
        finally:
            await cloud.close()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_roboos_edge_runs_one_robot_and_sigterm_stops_it(processes, tcp_endpoint: str) -> None:
    async def main() -> None:
        cloud = start_cloud(tcp_endpoint)
        await cloud.start()
        try:
            proc = subprocess.Popen([*EDGE, "--cloud", tcp_endpoint, "--robot", "arm1"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            processes.append(proc)
            await wait_until(lambda: all_connected(cloud, ["arm1"]) or proc.poll() is not None, timeout=30,
                             what="arm1 to register")
            assert "rover1" not in cloud.links()
            proc.send_signal(signal.SIGTERM)
            await wait_until(lambda: proc.poll() is not None, timeout=15, what="edge exit")
            assert proc.returncode == 0
        finally:
            await cloud.close()

    asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "robots.0.kind=sim_rover"], "robots.0.kind: unknown robot kind 'sim_rover'"),
        (["--robot", "r2d2"], "no robot 'r2d2' in the edge config"),
        (["--cloud", "localhost:7700"], "cloud: String should match pattern"),
    ],
)
def test_roboos_edge_bad_config_exits_2_with_the_reason(args: list[str], message: str) -> None:
    proc = subprocess.run([*EDGE, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in " ".join(proc.stderr.split())


def test_roboos_edge_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("robots: [{name: a, kind: sim_arm, options: {reach: [moon]}}]\n")
    proc = subprocess.run([*EDGE, "--config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown place 'moon'" in proc.stderr
