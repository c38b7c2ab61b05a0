"""Hardware profiles: the built-ins load, user files add or override, bad files name the key."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from roboos.cli.main import app
from roboos.config import ConfigError
from roboos.edge.profiles import choose_providers, list_profiles, load_profile

BUILTIN = {"iluvatar-module", "jetson-orin", "rk3588", "x86-cpu"}


def test_builtin_profiles_load() -> None:
    found = {name: prof for name, _, prof in list_profiles()}
    assert BUILTIN <= set(found)
    for name in BUILTIN:
        prof = found[name]
        assert not isinstance(prof, Exception), prof
        assert prof.execution_providers[-1] == "CPUExecutionProvider" and prof.default_precision in prof.precisions
    assert load_profile("iluvatar-module").accelerator.startswith("Iluvatar")


def test_provider_fallback_is_explained() -> None:
    prof = load_profile("jetson-orin")
    chosen, note = choose_providers(prof, available=["CPUExecutionProvider"])
    assert chosen == ["CPUExecutionProvider"] and "falling back to CPUExecutionProvider" in note
    chosen, note = choose_providers(prof, available=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert chosen == ["CUDAExecutionProvider", "CPUExecutionProvider"] and "TensorrtExecutionProvider" in note


def test_user_profile_added_and_malformed_named(tmp_path, monkeypatch) -> None:
    good = (tmp_path / "my-board.yaml")
    good.write_text((load_profile("x86-cpu").model_dump_json()).replace('"x86-cpu"', '"my-board"'))
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\ndescription: x\narch: riscv\naccelerator: none\n"
                   "execution_providers: [CPUExecutionProvider]\nprecisions: [fp32]\ndefault_precision: fp32\n"
                   "memory_budget_mb: 10\ncamera: {width: 1, height: 1, fps: 1}\n"
                   "control_rate: {default_hz: 10, max_hz: 5}\n")
    monkeypatch.setenv("ROBOOS_PROFILES", str(tmp_path))
    assert load_profile("my-board").name == "my-board"
    with pytest.raises(ConfigError) as err:
        load_profile("broken")
    assert "broken.yaml" in str(err.value) and "arch" in str(err.value)
    bad.write_text(bad.read_text().replace("riscv", "aarch64"))
    with pytest.raises(ConfigError, match="control_rate.default_hz"):
        load_profile(bad)
    with pytest.raises(ConfigError, match="no such hardware profile"):
        load_profile("nope")


def test_profiles_cli() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["profiles", "list"])
    assert res.exit_code == 0 and "iluvatar" in res.output
    res = runner.invoke(app, ["profiles", "show", "rk3588", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["arch"] == "aarch64"
    res = runner.invoke(app, ["profiles", "show", "nope"])
    assert res.exit_code == 2 and "no such hardware profile" in res.output
