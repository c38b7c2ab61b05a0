"""Dashboard fixtures: a real ``roboos up`` (cloud + sim edge robots) on free loopback ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from dashboard_testlib import Cloud, free_port, make_skill_store


@pytest.fixture(scope="module")
def roboos_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """``roboos up`` with the default sim robots; the dashboard on a free port; stopped with SIGINT."""
    tmp = tmp_path_factory.mktemp("dashboard-up")
    port = free_port()
    log = tmp / "up.log"
    args = [
        sys.executable,
        "-m",
        "roboos.cli.main",
        "up",
        "--time-scale",
        "0.2",
        "--set",
        f"bind=tcp://127.0.0.1:{free_port()}",
        "--set",
        f"control_plane.bind=127.0.0.1:{free_port()}",
        "--set",
        f"dashboard.bind=127.0.0.1:{port}",
        "--set",
        f"memory.path={tmp / 'cloud.db'}",
        "--set",
        "dashboard.sample_interval_s=0.25",
        "--set",
        f"dashboard.skill_store={make_skill_store(tmp)}",
        "--edge-set",  # rover1 fails to open containers twice: a task using the fridge is replanned once
        'robots.1.options.inject_failures={"open_container": 2}',
    ]
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("ROBOOS_DASHBOARD_TOKEN", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"roboos up exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            if "sim robots online" in log.read_text(errors="replace"):
                try:
                    if len(httpx.get(f"{url}/api/robots", timeout=2).json()) >= 2:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail(f"roboos up did not come up in 60 s:\n{log.read_text(errors='replace')}")
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
