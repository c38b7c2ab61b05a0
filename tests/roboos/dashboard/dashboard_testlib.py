"""Constants and helpers shared by the dashboard tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from skillstore_testlib import publish_source_package

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
MUJOCO_EDGE_CONFIG = REPO / "configs" / "robots" / "mujoco_household.yaml"


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WATERING_PKG = '''
from roboos.skills import skill


@skill(embodiments=["mobile_manipulator"])
def water_plant(plant: str, millilitres: int = 200) -> dict:
    """Water a potted plant with the onboard can."""
    return {"watered": plant, "ml": millilitres}
'''


def make_skill_store(tmp: Path) -> Path:
    """A real skill-store file holding one published package (``garden_skills`` with ``water_plant``)."""
    return publish_source_package(tmp, "garden_skills", WATERING_PKG, store_name="skills-store.db",
                                  description="garden care")


@dataclass
class Cloud:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def roboos_up_process(tmp: Path, extra_args: list[str], robots: int, timeout: float = 60.0) -> Iterator[Cloud]:
    """A real ``roboos up`` on free loopback ports (its memory in ``tmp``) until ``robots`` registered;
    stopped with SIGINT (SIGKILL after 15 s)."""
    port = free_port()
    log = tmp / "up.log"
    args = [
        sys.executable, "-m", "roboos.cli.main", "up",
        "--set", f"bind=tcp://127.0.0.1:{free_port()}",
        "--set", f"control_plane.bind=127.0.0.1:{free_port()}",
        "--set", f"dashboard.bind=127.0.0.1:{port}",
        "--set", f"memory.path={tmp / 'cloud.db'}",
        *extra_args,
    ]
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("ROBOOS_DASHBOARD_TOKEN", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"roboos up exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            if "sim robots online" in log.read_text(errors="replace"):
                try:
                    if len(httpx.get(f"{url}/api/robots", timeout=2).json()) >= robots:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail(f"roboos up did not come up in {timeout:.0f} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield Cloud(url, proc, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
