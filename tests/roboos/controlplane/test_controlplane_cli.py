"""`roboos task ...` and `roboos robots` against a running control plane: in-process through the typer
app, and as subprocesses (a new interpreter, as a user runs them)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from click.testing import Result
from typer.testing import CliRunner

from roboos.cli.main import app


def roboos(*args: str, address: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process (the same typer app the console script runs), output captured."""
    extra = ["--address", address] if address else []
    return CliRunner().invoke(
        app, [*args, *extra], env={"COLUMNS": "200", "NO_COLOR": "1", "ROBOOS_TOKEN": None, **(env or {})}
    )


def roboos_process(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user does: a new interpreter."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("ROBOOS_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "roboos.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_submit_watch_shows_plan_and_steps_and_exits_0(cloud) -> None:
    proc = roboos_process(
        "task", "submit", "put the sponge on the kitchen counter", "--watch", "--address", cloud.address
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "submitted task" in out and "succeeded" in out
    for word in ("rover1", "navigate", "pick", "place", "offline rule-based planner"):
        assert word in out


def test_submit_then_watch_show_list_cancel(cloud) -> None:
    proc = roboos("task", "submit", "put the toy block on the shelf", address=cloud.address)
    assert proc.exit_code == 0, proc.output
    task_id = proc.stdout.strip()
    assert task_id and " " not in task_id
    watch = roboos("task", "watch", task_id, address=cloud.address)
    assert watch.exit_code == 0 and f"task {task_id} succeeded" in watch.stdout
    shown = json.loads(roboos("task", "show", task_id, "--json", address=cloud.address).stdout)
    assert shown["id"] == task_id and shown["status"] == "succeeded" and shown["plan"]["steps"]
    listed = json.loads(roboos("task", "list", "--json", address=cloud.address).stdout)
    assert task_id in [t["id"] for t in listed]
    table = roboos("task", "list", address=cloud.address)
    assert task_id in table.stdout and "put the toy block on the shelf" in table.stdout
    cancel = roboos("task", "cancel", task_id, address=cloud.address)
    assert cancel.exit_code == 0 and "already succeeded" in cancel.stdout


def test_a_failed_task_exits_1_with_its_reason(cloud) -> None:
    proc = roboos("task", "submit", "fly the spaceship to the moon", "--watch", address=cloud.address)
    assert proc.exit_code == 1, proc.stdout + proc.stderr
    assert "failed" in proc.stdout and "planning failed" in proc.stdout


def test_robots_table_and_json(cloud) -> None:
    proc = roboos("robots", address=cloud.address)
    assert proc.exit_code == 0, proc.stderr
    for word in ("arm1", "rover1", "mobile_manipulator", "online", "ago"):
        assert word in proc.stdout
    robots = json.loads(roboos("robots", "--json", address=cloud.address).stdout)
    assert {r["name"] for r in robots} == {"arm1", "rover1"} and all(r["skills"] for r in robots)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("task", "watch", "ghost"), "unknown task 'ghost'"),
        (("task", "cancel", "ghost"), "unknown task 'ghost'"),
        (("task", "submit", "   "), "instruction is empty"),
    ],
)
def test_bad_requests_get_a_message_and_exit_3(cloud, args, message) -> None:
    proc = roboos(*args, address=cloud.address)
    assert proc.exit_code == 3
    assert message in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr


def test_no_cloud_running_is_a_friendly_error() -> None:
    proc = roboos_process("robots", "--address", f"127.0.0.1:{_closed_port()}")
    assert proc.returncode == 3
    err = " ".join(proc.stderr.split())
    assert "no RoboOS control plane answers" in err and "roboos cloud" in err and "Traceback" not in err


def test_address_from_the_environment(cloud) -> None:
    proc = roboos("robots", "--json", env={"ROBOOS_CONTROL_ADDRESS": cloud.address})
    assert proc.exit_code == 0 and "arm1" in proc.stdout


def test_unreadable_tls_ca_is_a_friendly_error(tmp_path) -> None:
    result = roboos("robots", env={"ROBOOS_TLS_CA": str(tmp_path / "missing-ca.pem")})
    assert result.exit_code == 3 and "cannot read the TLS CA certificate" in " ".join(result.stderr.split())
