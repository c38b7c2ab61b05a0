"""``roboos run`` end to end on the MuJoCo household: cloud + ``roboos edge`` process + physics robots."""

from __future__ import annotations

import subprocess
import sys

import pytest

from roboos.config import builtin_config


@pytest.mark.slow
def test_roboos_run_on_mujoco_robots(tmp_path) -> None:
    cmd = [sys.executable, "-m", "roboos.cli.main", "run", "--set", "scene=scenes/mujoco_household.yaml",
           "--set", f"memory.path={tmp_path / 'cloud.db'}",
           "--edge-config", str(builtin_config("robots/mujoco_household.yaml")), "--time-scale", "0", "--timeout", "120",
           "put the blue can in the bin and put the red cube on the counter"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "task succeeded" in proc.stdout
