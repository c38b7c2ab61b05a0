"""`roboos history` against the history a real `roboos run` wrote; `roboos bench memory` at toy size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def roboos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI as a process (for `roboos run`, which starts its own processes)."""
    return subprocess.run([sys.executable, "-m", "roboos.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def cli(*args: str) -> Any:
    """The CLI in-process (typer's runner): the same commands without a Python start-up per call."""
    from typer.testing import CliRunner

    from roboos.cli.main import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def run_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("history") / "cloud.db"
    proc = roboos("run", "put the toy block in the bin and bring the apple to the sink", "--time-scale", "0", "-q",
                  "--set", f"memory.path={db}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listing = cli("history", "--set", f"memory.path={db}")
    assert listing.exit_code == 0, listing.output
    line = next(ln for ln in listing.stdout.splitlines() if "succeeded" in ln)
    assert "put the toy block in the bin and bring the apple to the sink" in line
    return db, line.split()[0]


def test_query_filters_and_json(run_db: tuple[Path, str]) -> None:
    db, task = run_db
    proc = cli("history", "query", "--set", f"memory.path={db}", "--task", task, "--kind", "task.step", "--json",
               "-n", "500")
    entries = [json.loads(line) for line in proc.stdout.splitlines()]
    assert entries and all(e["task"] == task and e["kind"] == "task.step" for e in entries)
    assert {e["robot"] for e in entries} == {"arm1", "rover1"}
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    one = json.loads(cli("history", "query", "--set", f"memory.path={db}", "--seq", str(entries[0]["seq"])).stdout)
    assert one == entries[0]
    table = cli("history", "query", "--set", f"memory.path={db}", "--robot", "arm1", "--since", "1h").stdout
    assert "robot.online" in table and "arm1" in table
    bad = cli("history", "query", "--set", f"memory.path={db}", "--since", "yesterday-ish")
    assert bad.exit_code == 2 and "is not a time" in bad.output


def test_replay_shows_the_final_table(run_db: tuple[Path, str]) -> None:
    db, task = run_db
    proc = cli("history", "replay", task, "--set", f"memory.path={db}")
    assert proc.exit_code == 0, proc.output
    assert "✔ succeeded" in proc.stdout and "final status: succeeded" in proc.stdout
    assert "rover1" in proc.stdout and "navigate" in proc.stdout
    missing = cli("history", "replay", "nope", "--set", f"memory.path={db}")
    assert missing.exit_code == 1 and "no history for task 'nope'" in missing.output


def test_missing_history_file_is_explained(tmp_path: Path) -> None:
    proc = cli("history", "--set", f"memory.path={tmp_path / 'none.db'}")
    assert proc.exit_code == 1 and "no history at" in " ".join(proc.output.split())


def test_bench_memory_toy_size_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    proc = cli("bench", "memory", "--entries", "3000", "--robots", "8", "--updates", "10", "--backends",
               "sqlite,local", "--out", str(out))
    assert proc.exit_code == 0, proc.output
    data = json.loads(out.read_text())
    sqlite = data["backends"]["sqlite"]
    assert sqlite["history"]["entries"] == 3000 + 5000 and sqlite["updates"]["robots_with_lost_updates"] == 0
    assert data["machine"]["cores"] and data["versions"]["sqlite"] and "bench memory" in data["command"]
