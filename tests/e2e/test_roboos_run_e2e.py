"""End to end through the CLI: `roboos run` starts the cloud and the sim edge robots, runs the instruction
and exits 0 on success, non-zero with the reason otherwise."""

from __future__ import annotations

import subprocess
import sys

from roboos.cli.cmd_run import DEMO_INSTRUCTION


def roboos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roboos.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env={**__import__("os").environ, "COLUMNS": "160"})


def test_roboos_run_demo_succeeds() -> None:
    proc = roboos("run", DEMO_INSTRUCTION, "--time-scale", "0")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "offline rule-based planner" in out
    assert "robots online: arm1 (arm" in out and "rover1 (mobile_manipulator" in out
    assert "✔ task succeeded (8 steps, 0 replans)" in out
    for skill in ("pick", "place", "navigate"):
        assert skill in out


def test_roboos_run_impossible_instruction_fails_with_the_reason() -> None:
    proc = roboos("run", "put the piano on the shelf", "--time-scale", "0", "--quiet")
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, out
    assert "✘ task failed: planning failed: 'put the piano on the shelf': no object called 'piano'" in out


def test_roboos_run_bad_planner_option_is_a_config_error() -> None:
    proc = roboos("run", "--planner", "oracle")
    assert proc.returncode == 2
    assert "planner.kind: Input should be 'offline' or 'llm'" in " ".join(proc.stdout.split())
