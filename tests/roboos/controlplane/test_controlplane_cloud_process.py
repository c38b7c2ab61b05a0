"""End to end through processes: `roboos up` (cloud + control plane + sim edges), then the task CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from roboos.controlplane.client import ControlClient
from roboos.controlplane.errors import ControlPlaneUnavailable


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("ROBOOS_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "roboos.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def running_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`roboos up` on free loopback ports with a token; yields (control address, token)."""
    address, token = f"127.0.0.1:{_port()}", "cli-test-token"
    log = tmp_path_factory.mktemp("cloud") / "up.log"
    env = {**os.environ, "ROBOOS_TEST_TOKEN": token}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roboos.cli.main",
                "up",
                "--time-scale",
                "0",
                "--set",
                f"bind=tcp://127.0.0.1:{_port()}",
                "--set",
                f"control_plane.bind={address}",
                "--set",
                "control_plane.token_env=ROBOOS_TEST_TOKEN",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"roboos up exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with ControlClient(address, token=token, timeout=2) as client:
                    if len([r for r in client.robots() if r.online]) >= 2:
                        break
            except ControlPlaneUnavailable:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"roboos up did not serve two robots in time:\n{log.read_text()}")
            time.sleep(0.2)
        yield address, token
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def test_task_cli_against_roboos_up(running_cloud: tuple[str, str]) -> None:
    address, token = running_cloud
    robots = _cli("robots", "--address", address, "--token", token)
    assert robots.returncode == 0, robots.stderr
    assert "arm1" in robots.stdout and "rover1" in robots.stdout and "online" in robots.stdout

    done = _cli(
        "task",
        "submit",
        "put the banana on the kitchen counter",
        "--watch",
        "--address",
        address,
        "--token",
        token,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded" in done.stdout and "rover1" in done.stdout

    denied = _cli("robots", "--address", address)  # the cloud was started with a token
    assert denied.returncode == 3 and "token" in denied.stderr
