"""End to end through the CLI: `roboos run` starts the cloud and the sim edge robots, runs the instruction
and exits 0 on success, non-zero with the reason otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from roboos.cli.cmd_run import DEMO_INSTRUCTION


def roboos(*args: str, db: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roboos.cli.main", *args, "--set", f"memory.path={db}"],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "COLUMNS": "160"})


def test_roboos_run_demo_succeeds(tmp_path: Path) -> None:
    proc = roboos("run", DEMO_INSTRUCTION, "--time-scale", "0", db=tmp_path / "cloud.db")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "offline rule-based planner" in out
    assert "robots online: arm1 (arm" in out and "rover1 (mobile_manipulator" in out
    assert "✔ task succeeded (8 steps, 0 replans)" in out
    for skill in ("pick", "place", "navigate"):
        assert skill in out


def test_roboos_run_impossible_instruction_fails_with_the_reason(tmp_path: Path) -> None:
    proc = roboos("run", "put the piano on the shelf", "--time-scale", "0", "--quiet", db=tmp_path / "cloud.db")
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, out
    assert "✘ task failed: planning failed: 'put the piano on the shelf': no object called 'piano'" in out


def test_roboos_run_bad_planner_option_is_a_config_error(tmp_path: Path) -> None:
    proc = roboos("run", "--planner", "oracle", db=tmp_path / "cloud.db")
    assert proc.returncode == 2
    assert "planner.kind: Input should be 'offline' or 'llm'" in " ".join(proc.stdout.split())


def test_roboos_run_unusable_database_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = roboos("run", "--time-scale", "0", db=blocker / "cloud.db")
    assert proc.returncode == 2
    assert "cannot start the cloud: cannot create the folder of" in " ".join(proc.stdout.split())
