"""The files of a bundle: edge config, profile, skill cards, keys, systemd unit and launcher.

Layout::

    manifest.json             versions + SHA-256 of every file (see manifest.py)
    edge.yaml                 EdgeConfig with only this robot; key paths relative to the bundle
    profile.yaml              the hardware profile it was built for
    scene.yaml                the world of simulated robots (copied, so the bundle stands alone)
    skills.json               the robot's skill cards (validated as the cloud's skill index will)
    models/                   ONNX models + one verification report each
    keys/<robot>.key(_secret) the robot's CURVE key pair (secret 0600); keys/cloud.key
    run.sh                    launcher: ``roboos edge --bundle <this folder>``
    roboos-edge-<robot>.service   systemd unit (ExecStart under --install-dir)
    var/                      runtime output (logs), not part of the manifest
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from roboos.channel.keystore import KeyStore
from roboos.channel.security import KeyPair, save_keypair
from roboos.edge.config import EdgeConfig, RobotConfig, load_edge_config
from roboos.edge.deploy.manifest import RUNTIME_DIR, verify_bundle
from roboos.edge.profiles import HardwareProfile


def collect_skills(robot_cfg: RobotConfig, config: EdgeConfig, root: Path | None = None) -> dict[str, Any]:
    """The robot's skill cards (its own and those of packages installed in its ``skills_dir``, relative to
    the bundle ``root``), validated the way the cloud's skill index validates a HELLO."""
    from roboos.edge.robots import make_robot
    from roboos.edge.runner import robot_registry
    from roboos.skills.card import SkillCard
    from roboos.skills.index import SkillIndex

    robot = make_robot(robot_cfg, scene=config.scene, time_scale=config.time_scale)
    if robot_cfg.skills_dir and root is not None and not Path(robot_cfg.skills_dir).is_absolute():
        robot_cfg = robot_cfg.model_copy(update={"skills_dir": str(root / robot_cfg.skills_dir)})
    registry = robot_registry(robot, robot_cfg)
    cards = [SkillCard.from_spec(spec).model_dump(mode="json") for spec in registry]
    SkillIndex().register(robot.name, robot.embodiment, cards)  # raises on a card the store would refuse
    return {"robot": robot.name, "embodiment": robot.embodiment, "kind": robot_cfg.kind, "skills": cards}


def write_keys(root: Path, robot: str, store: KeyStore) -> KeyPair:
    """A fresh robot key pair in ``keys/`` (secret 0600), the cloud's public key, and the allow-list entry."""
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    os.chmod(keys, 0o700)
    pair = KeyPair.generate()
    save_keypair(keys, robot, pair)
    shutil.copyfile(store.cloud_public_key_path(), keys / "cloud.key")
    store.allow(robot, pair.public)
    return pair


def write_edge_config(root: Path, config: EdgeConfig, robot_cfg: RobotConfig, cloud: str, secure: bool) -> Path:
    from roboos.edge.robots import resolve_scene_path

    data = config.model_dump(mode="json", exclude_none=True)
    data["cloud"] = cloud
    shutil.copyfile(resolve_scene_path(config.scene), root / "scene.yaml")  # self-contained: the world too
    data["scene"] = "scene.yaml"
    data["robots"] = [robot_cfg.model_dump(mode="json", exclude_none=True)]
    if secure:
        data["security"] = {"key_dir": "keys", "key_name": robot_cfg.name, "cloud_public_key": "keys/cloud.key"}
    else:
        data.pop("security", None)
    path = root / "edge.yaml"
    header = f"# RoboOS edge bundle for robot {robot_cfg.name}: written by roboos deploy (do not edit: the manifest\n" \
             "# holds its SHA-256; redeploy instead). Key paths are relative to the bundle folder.\n"
    path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    load_edge_config(path)  # the bundle must load as it will on the robot
    return path


def write_profile(root: Path, profile: HardwareProfile) -> Path:
    path = root / "profile.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False))
    return path


def write_skills(root: Path, skills: dict[str, Any]) -> Path:
    path = root / "skills.json"
    path.write_text(json.dumps(skills, indent=2) + "\n")
    return path


LAUNCHER = """#!/bin/sh
# Launch the RoboOS edge agent of this bundle. `roboos edge --bundle` verifies every file against
# manifest.json first and refuses a tampered or incomplete bundle.
set -e
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$HERE/var"
exec "${ROBOOS:-roboos}" edge --bundle "$HERE" "$@"
"""

UNIT = """[Unit]
Description=RoboOS edge agent for robot {robot} ({profile})
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={install_dir}/run.sh
WorkingDirectory={install_dir}
Restart=on-failure
RestartSec=2
# the safety watchdog stops the robot on its own; give the agent time to say BYE on stop
TimeoutStopSec=10
KillSignal=SIGTERM

[Install]
WantedBy=multi-user.target
"""


def write_launchers(root: Path, robot: str, profile: str, install_dir: str) -> list[Path]:
    run = root / "run.sh"
    run.write_text(LAUNCHER)
    os.chmod(run, 0o755)
    unit = root / f"roboos-edge-{robot}.service"
    unit.write_text(UNIT.format(robot=robot, profile=profile, install_dir=install_dir.rstrip("/")))
    (root / RUNTIME_DIR).mkdir(exist_ok=True)
    return [run, unit]


def load_bundle_config(root: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> EdgeConfig:
    """Verify a bundle and load its edge config with key paths resolved against the bundle folder."""
    root = Path(root).resolve()
    verify_bundle(root)
    config = load_edge_config(root / "edge.yaml", overrides)
    if not Path(config.scene).is_absolute() and (root / config.scene).is_file():
        config = config.model_copy(update={"scene": str(root / config.scene)})
    robots = [r.model_copy(update={"skills_dir": str(root / r.skills_dir)})
              if r.skills_dir and not Path(r.skills_dir).is_absolute() else r for r in config.robots]
    config = config.model_copy(update={"robots": robots})
    if config.security is not None:
        sec = config.security
        fixed = sec.model_copy(update={"key_dir": str(root / sec.key_dir),
                                       "cloud_public_key": str(root / sec.cloud_public_key)})
        config = config.model_copy(update={"security": fixed})
    return config
