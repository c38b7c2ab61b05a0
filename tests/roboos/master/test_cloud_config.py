"""configs/cloud.yaml: loads, overrides apply, bad files name the file, key and problem (API and CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from roboos.config import ConfigError
from roboos.master.config import CloudConfig, load_cloud_config
from roboos.master.master import load_cloud_scene


def test_builtin_config_loads_with_overrides() -> None:
    cfg = load_cloud_config(overrides=["planner.kind=llm", "executor.max_replans=4", "planner.llm.model=rb2"])
    assert isinstance(cfg, CloudConfig) and cfg.planner.kind == "llm" and cfg.planner.llm.model == "rb2"
    assert cfg.executor.max_replans == 4 and cfg.bind.startswith("tcp://127.0.0.1:")
    assert load_cloud_scene(cfg).name == "household"


@pytest.mark.parametrize(("text", "overrides", "key", "problem"), [
    ("heartbeat:\n  timeout_s: -1\n", [], "heartbeat.timeout_s", "greater than 0"),
    ("planner:\n  kind: oracle\n", [], "planner.kind", "'offline' or 'llm'"),
    ("executor: {max_replans: 2, retries: 3}\n", [], "executor.retries", "Extra inputs are not permitted"),
    ("", ["executor.max_step_retries=many"], "executor.max_step_retries", "valid integer"),
    ("bind: [1, 2\n", [], None, "invalid YAML (line 2"),
])
def test_bad_cloud_config_names_file_key_and_problem(tmp_path: Path, text: str, overrides: list[str],
                                                     key: str | None, problem: str) -> None:
    path = tmp_path / "cloud.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_cloud_config(path, overrides)
    assert info.value.source == str(path) and info.value.key == key and problem in info.value.problem


def test_unknown_scene_is_a_config_error(tmp_path: Path) -> None:
    cfg = load_cloud_config(overrides=[f"scene={tmp_path / 'nowhere.yaml'}"])
    with pytest.raises(ConfigError, match="no such built-in config file"):
        load_cloud_scene(cfg)


def test_cli_reports_bad_config_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "cloud.yaml"
    path.write_text("executor:\n  max_replans: 99\n")
    proc = subprocess.run([sys.executable, "-m", "roboos.cli.main", "cloud", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{path}: executor.max_replans: Input should be less than or equal to 10" in " ".join(proc.stdout.split())
