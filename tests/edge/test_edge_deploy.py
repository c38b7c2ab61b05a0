"""roboos deploy: bundle -> start -> register (CURVE) -> run a task; tampered bundles refused; model export."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roboos.cli.main import app
from roboos.edge.deploy import BundleError, load_bundle_config, verify_bundle
from roboos.edge.deploy.deploy import DeployError, DeployOptions, deploy, start_bundle

FAST_EDGE = ("time_scale=0", "heartbeat.interval_s=0.1", "state_rate_hz=10")


def _bundle(tmp_path: Path, name: str = "b", **kw) -> Path:  # noqa: ANN003
    opts = DeployOptions(profile="x86-cpu", robot="arm1", out=tmp_path / name, models=[], key_dir=str(tmp_path / "keys"),
                         overrides=FAST_EDGE, **kw)
    return deploy(opts).bundle


def test_deploy_start_register_and_run_a_task_over_curve(tmp_path: Path) -> None:
    from roboos.master import Master
    from roboos.master.config import load_cloud_config

    async def main() -> None:
        loop = asyncio.get_running_loop()
        config = load_cloud_config(overrides=[
            "bind=tcp://127.0.0.1:0", "control_plane.enabled=false", "memory.backend=local",
            "heartbeat.interval_s=0.1", "security.mode=on", f"security.key_dir={tmp_path / 'keys'}"])
        master = Master(config)
        await master.start()
        proc = None
        try:
            opts = DeployOptions(profile="x86-cpu", robot="arm1", cloud=master.channel.endpoint, out=tmp_path / "arm1",
                                 models=[], key_dir=str(tmp_path / "keys"), secure=True, overrides=FAST_EDGE)
            result = await loop.run_in_executor(None, deploy, opts)
            assert result.secure and (result.bundle / "keys" / "arm1.key_secret").stat().st_mode & 0o777 == 0o600
            assert (tmp_path / "keys" / "allowed" / "arm1.key").exists()
            proc = await loop.run_in_executor(None, lambda: start_bundle(result.bundle, timeout=60))
            missing = await master.registry.wait_for(["arm1"], 20)
            assert not missing
            task_id = await master.submit("put the screwdriver on the shelf")
            record = await master.wait(task_id, 60)
            assert record.status.value == "succeeded", record.reason
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                await loop.run_in_executor(None, proc.wait, 20)
            await master.stop()

    asyncio.run(main())


def test_tampered_or_incomplete_bundles_are_refused(tmp_path: Path) -> None:
    good = _bundle(tmp_path)
    manifest = verify_bundle(good)
    assert {"edge.yaml", "scene.yaml", "skills.json", "profile.yaml", "run.sh", "keys/arm1.key_secret",
            "roboos-edge-arm1.service"} <= set(manifest.files)
    cfg = load_bundle_config(good)
    assert cfg.robots[0].name == "arm1" and Path(cfg.scene).is_absolute()
    skills = json.loads((good / "skills.json").read_text())
    assert {"pick", "place"} <= {s["name"] for s in skills["skills"]}

    def broken(name: str) -> Path:
        path = tmp_path / name
        shutil.copytree(good, path)
        os.chmod(path / "keys" / "arm1.key_secret", 0o600)
        return path

    cases = {}
    b = broken("changed")
    (b / "edge.yaml").write_text((b / "edge.yaml").read_text().replace("arm1", "evil"))
    cases[b] = "edge.yaml"
    b = broken("missing")
    (b / "skills.json").unlink()
    cases[b] = "skills.json"
    b = broken("added")
    (b / "models").mkdir()
    (b / "models" / "extra.onnx").write_bytes(b"\x00")
    cases[b] = "models/extra.onnx"
    b = broken("leaky-key")
    os.chmod(b / "keys" / "arm1.key_secret", 0o644)
    cases[b] = "keys/arm1.key_secret"
    b = broken("no-manifest")
    (b / "manifest.json").unlink()
    cases[b] = "manifest.json"
    for path, culprit in cases.items():
        with pytest.raises(BundleError) as err:
            verify_bundle(path)
        assert err.value.path == culprit, (path.name, err.value)
    (good / "var" / "edge.log").write_text("runtime output is allowed")
    verify_bundle(good)
    res = CliRunner().invoke(app, ["edge", "--bundle", str(tmp_path / "changed")])
    assert res.exit_code == 3 and "edge.yaml" in res.output


def test_deploy_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no robot 'ghost'"):
        deploy(DeployOptions(profile="x86-cpu", robot="ghost", out=tmp_path / "g", models=[],
                             key_dir=str(tmp_path / "keys")))
    with pytest.raises(DeployError, match="supports fp32, int8, not fp16"):
        deploy(DeployOptions(profile="x86-cpu", robot="arm1", out=tmp_path / "p", precision="fp16",
                             key_dir=str(tmp_path / "keys")))
    _bundle(tmp_path, "dup")
    with pytest.raises(DeployError, match="--force"):
        _bundle(tmp_path, "dup")
    res = CliRunner().invoke(app, ["deploy", "--edge", "no-such-board", "--robot", "arm1", "--out",
                                   str(tmp_path / "x"), "--key-dir", str(tmp_path / "keys")])
    assert res.exit_code == 2 and "no such hardware profile" in res.output


@pytest.mark.slow
def test_deploy_exports_and_verifies_the_local_model(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    res = CliRunner().invoke(app, ["deploy", "--edge", "rk3588", "--robot", "rover1", "--out", str(tmp_path / "r"),
                                   "--key-dir", str(tmp_path / "keys"), "--set", "time_scale=0"])
    assert res.exit_code == 0, res.output
    manifest = verify_bundle(tmp_path / "r")
    (report,) = manifest.models
    assert report["precision"] == "int8" and report["verified"] and report["relative_l2_error"] <= report["tolerance"]
    assert f"models/{report['file']}" in manifest.files


def test_deploy_installs_skill_packages_from_the_store(tmp_path: Path) -> None:
    from roboos.edge.robots import make_robots
    from roboos.edge.runner import robot_registry
    from roboos.skills.store import SkillStore, pack, write_manifest

    pkg = tmp_path / "bell_pkg"
    pkg.mkdir()
    (pkg / "bells.py").write_text(
        "from roboos.robot import Robot\nfrom roboos.skills import skill\n\n\n"
        "@skill(embodiments=['arm'])\ndef ring_bell(robot: Robot, times: int = 1) -> dict:\n"
        "    \"\"\"Ring the desk bell.\"\"\"\n    return {'times': times}\n")
    write_manifest(pkg, name="bells", version="1.0.0", embodiments=["arm"])
    store = SkillStore(tmp_path / "store.db")
    store.publish(pack(pkg))
    store.close()

    bundle = _bundle(tmp_path, skill_store=str(tmp_path / "store.db"), packages=("bells",))
    cards = json.loads((bundle / "skills.json").read_text())["skills"]
    assert "ring_bell" in [c["name"] for c in cards] and "pick" in [c["name"] for c in cards]
    config = load_bundle_config(bundle)
    assert config.robots[0].skills_dir == str(bundle.resolve() / "skills")
    robot = make_robots(config.robots, scene=config.scene, time_scale=0)[0]
    assert "ring_bell" in robot_registry(robot, config.robots[0])
    verify_bundle(bundle)  # loading the package wrote nothing into the bundle (no __pycache__)

    with pytest.raises(DeployError, match="--skill-store"):
        _bundle(tmp_path, name="c", packages=("bells",))
    with pytest.raises(DeployError, match="skill package nope"):
        _bundle(tmp_path, name="d", skill_store=str(tmp_path / "store.db"), packages=("nope",))
