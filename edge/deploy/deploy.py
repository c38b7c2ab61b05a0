"""``roboos deploy`` orchestration: profile -> skills -> models -> keys -> files -> manifest -> (start)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from roboos.channel.cloud import is_loopback
from roboos.channel.keystore import KeyStore
from roboos.edge.config import load_edge_config
from roboos.edge.deploy.bundle import (
    collect_skills,
    write_edge_config,
    write_keys,
    write_launchers,
    write_profile,
    write_skills,
)
from roboos.edge.deploy.manifest import RUNTIME_DIR, Manifest, verify_bundle, write_manifest
from roboos.edge.profiles import HardwareProfile, choose_providers, load_profile

STEPS = ("profile", "skills", "models", "keys", "files", "manifest")
VERSIONED = ("roboos", "pyzmq", "msgpack", "numpy", "pydantic", "onnxruntime", "onnx", "torch")


class DeployError(RuntimeError):
    """Deployment could not finish; the message says which step and why."""


@dataclass
class DeployOptions:
    profile: str
    robot: str
    cloud: str | None = None  # default: the edge config's cloud
    out: Path | None = None  # default: ./bundles/<robot>-<profile>
    config: Path | None = None  # edge config holding the robot (default configs/edge.yaml)
    overrides: tuple[str, ...] = ()
    key_dir: str | None = None  # the cloud's key store (default ~/.roboos/keys)
    models: list[str] | None = None  # default: the profile's local_models
    precision: str | None = None  # default: the profile's default_precision
    checkpoint: str | None = None
    secure: bool | None = None  # None: CURVE when the cloud endpoint is not loopback
    install_dir: str | None = None  # where the bundle will live on the robot (systemd unit)
    force: bool = False
    skill_store: str | None = None  # a skill-store file to take skill packages from
    packages: tuple[str, ...] = ()  # packages (name or name==version) installed into the bundle's skills/


@dataclass
class DeployResult:
    bundle: Path
    manifest: Manifest
    profile: HardwareProfile
    secure: bool
    notes: list[str] = field(default_factory=list)


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in VERSIONED:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def install_packages(root: Path, robot_cfg: Any, store_path: str | None, packages: tuple[str, ...]) -> Any:
    """Install skill packages from the store into ``<bundle>/skills``; the robot then loads them at start."""
    if not store_path:
        raise DeployError("--package needs --skill-store (the skill-store file to install from)")
    from roboos.skills.store import PackageError, SkillStore

    store = SkillStore(Path(store_path).expanduser())
    try:
        for item in packages:
            name, _, version = item.partition("==")
            try:
                store.install(name, root / "skills", version or None)
            except (PackageError, KeyError, LookupError) as exc:
                raise DeployError(f"skill package {item}: {exc}") from None
    finally:
        store.close()
    return robot_cfg.model_copy(update={"skills_dir": "skills"})


def deploy(opts: DeployOptions, step: Callable[[str, str], None] | None = None) -> DeployResult:
    """Build (and verify) a bundle; ``step(name, message)`` reports progress."""
    say = step or (lambda name, msg: None)
    notes: list[str] = []
    say("profile", f"resolving hardware profile {opts.profile}")
    profile = load_profile(opts.profile)
    precision = opts.precision or profile.default_precision
    if precision not in profile.precisions:
        raise DeployError(f"profile {profile.name} supports {', '.join(profile.precisions)}, not {precision}")
    providers, providers_note = choose_providers(profile)
    notes.append(f"onnxruntime providers: {providers_note}")
    config = load_edge_config(opts.config, list(opts.overrides))
    robot_cfg = config.robot(opts.robot)  # KeyError names the robots there are
    cloud = opts.cloud or config.cloud
    secure = (not is_loopback(cloud)) if opts.secure is None else opts.secure
    root = (opts.out or Path("bundles") / f"{opts.robot}-{profile.name}").resolve()
    if root.exists() and any(root.iterdir()):
        if not opts.force:
            raise DeployError(f"{root} exists and is not empty (pass --force to replace it)")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)

    if opts.packages:
        say("skills", f"installing {', '.join(opts.packages)} from the skill store")
        robot_cfg = install_packages(root, robot_cfg, opts.skill_store, opts.packages)
    say("skills", f"collecting the skills of {opts.robot} ({robot_cfg.kind})")
    skills = collect_skills(robot_cfg, config, root)
    write_skills(root, skills)

    names = profile.local_models if opts.models is None else opts.models
    unknown = [m for m in names if m not in profile.local_models]
    if unknown:
        raise DeployError(f"profile {profile.name} allows local models {profile.local_models}, not {unknown}")
    reports: list[dict[str, Any]] = []
    if names:
        from roboos.edge.deploy.models import ModelExportError, export_models

        say("models", f"exporting {', '.join(names)} at {precision}")
        try:
            reports = export_models(names, root / "models", precision, providers, opts.checkpoint,
                                    progress=lambda msg: say("models", msg))
        except ModelExportError as exc:
            raise DeployError(f"model export failed: {exc}") from None
        for rep in reports:
            if "random weights" in rep["source"]:
                notes.append(f"{rep['name']}: {rep['source']}")
    else:
        say("models", "no local models for this deployment")

    say("keys", "generating the robot's CURVE key pair and registering it with the cloud")
    store = KeyStore(opts.key_dir)
    write_keys(root, opts.robot, store)
    if not secure:
        notes.append(f"cloud {cloud} is on loopback: CURVE keys generated but not used (pass --secure to use them)")

    say("files", "writing config, profile, launcher and systemd unit")
    write_edge_config(root, config, robot_cfg, cloud, secure)
    write_profile(root, profile)
    write_launchers(root, opts.robot, profile.name, opts.install_dir or f"/opt/roboos/{opts.robot}")

    say("manifest", "hashing every file")
    manifest = write_manifest(
        root, created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), robot=opts.robot,
        kind=robot_cfg.kind, profile=profile.name, cloud=cloud, precision=precision, versions=_versions(),
        providers=providers, providers_note=providers_note, models=reports)
    verify_bundle(root)
    return DeployResult(bundle=root, manifest=manifest, profile=profile, secure=secure, notes=notes)


def start_bundle(bundle: Path, timeout: float = 60.0, extra_args: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """Launch ``roboos edge --bundle`` in the background (log in ``var/edge.log``) and wait until the
    robot has registered with the cloud; the process keeps running after this returns."""
    log_path = bundle / RUNTIME_DIR / "edge.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "roboos.cli.main", "edge", "--bundle", str(bundle),
                             "--log-level", "INFO", *extra_args], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if "cloud link up" in text:
            return proc
        if proc.poll() is not None:
            raise DeployError(f"the edge agent exited with code {proc.returncode}:\n{text[-2000:]}")
        time.sleep(0.1)
    proc.terminate()
    raise DeployError(f"the edge agent did not register with the cloud within {timeout:g} s "
                      f"(log: {log_path})")
