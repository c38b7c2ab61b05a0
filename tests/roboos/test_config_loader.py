"""YAML config loading: errors name the file, the key and the problem; CLI overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from roboos.config import ConfigError, apply_overrides, load_config


class _Heartbeat(BaseModel):
    interval_s: float = Field(0.5, gt=0)


class _Cloud(BaseModel):
    bind: str = "tcp://127.0.0.1:7700"
    heartbeat: _Heartbeat = _Heartbeat()


def test_load_and_override(tmp_path: Path) -> None:
    path = tmp_path / "cloud.yaml"
    path.write_text("bind: tcp://127.0.0.1:9000\nheartbeat:\n  interval_s: 0.25\n")
    cfg = load_config(_Cloud, path, overrides=["heartbeat.interval_s=1.5"])
    assert cfg.bind == "tcp://127.0.0.1:9000" and cfg.heartbeat.interval_s == 1.5


def test_bad_value_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "cloud.yaml"
    path.write_text("heartbeat:\n  interval_s: -1\n")
    with pytest.raises(ConfigError) as info:
        load_config(_Cloud, path)
    assert str(path) in str(info.value) and "heartbeat.interval_s" in str(info.value)
    assert "greater than 0" in str(info.value)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("bind: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: invalid YAML \(line"):
        load_config(_Cloud, path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(_Cloud, tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(_Cloud, path)


def test_bad_override_syntax() -> None:
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["no-equals-sign"])
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_overrides({"bind": "x"}, ["bind.port=1"])
