"""Security properties (docs/security.md): nothing received is unpickled or evaluated, archives and bundles
cannot escape their folder, secrets are 0600, every server listens on loopback by default and refuses
to listen beyond it without authentication, sizes are bounded."""

from __future__ import annotations

import io
import json
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("roboos", "brain", "edge", "skills", "sim")
UNSAFE = {
    "pickle / marshal / shelve / dill": re.compile(r"^\s*(import|from)\s+(c?pickle|marshal|shelve|dill|cloudpickle)\b", re.MULTILINE),
    "eval / exec": re.compile(r"(?<![\w.])(eval|exec)\s*\("),
    "yaml.load without SafeLoader": re.compile(r"yaml\.(unsafe_load|load)\s*\((?![^)]*SafeLoader)"),
    "numpy allow_pickle": re.compile(r"allow_pickle\s*=\s*True"),
    "torch.load without weights_only": re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)"),
    "shell=True": re.compile(r"shell\s*=\s*True"),
}


def test_no_unsafe_deserialisation_or_evaluation_in_the_sources() -> None:
    hits = []
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for what, pattern in UNSAFE.items():
                for m in pattern.finditer(text):
                    hits.append(f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {what}")
    assert not hits, "\n".join(hits)


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((stat.S_IFLNK if name in links else stat.S_IFREG) | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/abs/evil.py", "\\evil.py", "a\\..\\evil.py",
                                  "C:evil.py", "link"])
def test_skill_package_zip_slip_and_links_refused(tmp_path: Path, name: str) -> None:
    from roboos.skills.store.archive import unpack
    from roboos.skills.store.errors import PackageError

    dest = tmp_path / "pkg"
    dest.mkdir()
    data = _zip({"ok.py": b"x = 1\n", name: b"/etc/passwd" if name == "link" else b"boom\n"},
                links=("link",))
    with pytest.raises(PackageError) as err:
        unpack(data, dest)
    assert err.value.code == "bad_archive"
    assert not (tmp_path / "evil.py").exists() and not Path("/abs/evil.py").exists()


def test_skill_package_zip_bomb_refused(tmp_path: Path) -> None:
    from roboos.skills.store import archive
    from roboos.skills.store.errors import PackageError

    data = _zip({f"f{i}.bin": b"\0" * (1 << 20) for i in range(archive.MAX_UNPACKED_BYTES // (1 << 20) + 2)})
    with pytest.raises(PackageError, match="unpacks to more than"):
        archive.unpack(data, tmp_path)


def test_deploy_bundle_manifest_cannot_point_outside_the_bundle(tmp_path: Path) -> None:
    from roboos.edge.deploy.manifest import MANIFEST, BundleError, sha256_file, verify_bundle

    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the bundle")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    entry = {"sha256": sha256_file(outside), "size": outside.stat().st_size}
    (bundle / MANIFEST).write_text(json.dumps({
        "created": "now", "robot": "arm1", "kind": "sim_arm", "profile": "x86-cpu", "cloud": "tcp://127.0.0.1:7700",
        "precision": "fp32", "versions": {}, "files": {"../secret.txt": entry}}))
    with pytest.raises(BundleError):
        verify_bundle(bundle)


def test_secret_key_files_are_private(tmp_path: Path) -> None:
    from roboos.channel import KeyPair, load_keypair, save_keypair

    _public, secret = save_keypair(tmp_path, "arm1", KeyPair.generate())
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    secret.chmod(0o644)
    with pytest.raises(Exception, match="(?i)readable|permission|mode"):
        load_keypair(tmp_path, "arm1")


def test_every_server_defaults_to_loopback() -> None:
    import inspect

    from roboos.brain.policy_server.server import PolicyServer
    from roboos.brain.server.settings import ServerSettings

    from roboos.channel.cloud import is_loopback
    from roboos.dashboard.config import DashboardConfig
    from roboos.master.config import CloudConfig

    cloud = CloudConfig()
    assert is_loopback(cloud.bind)
    assert cloud.control_plane.bind.startswith("127.0.0.1:")
    assert DashboardConfig().bind.startswith("127.0.0.1:")
    assert ServerSettings(model="x").host == "127.0.0.1"
    params = inspect.signature(PolicyServer).parameters
    assert params["host"].default == "127.0.0.1" and is_loopback(params["zmq_bind"].default)


def test_envelope_size_limits() -> None:
    import numpy as np

    from roboos.protocol import Envelope, Limits, MessageTooLarge, MsgType, decode, encode

    limits = Limits(max_envelope_bytes=1024, max_frame_bytes=1 << 16, max_total_bytes=1 << 17, max_frames=3)
    with pytest.raises(MessageTooLarge):
        decode(encode(Envelope(MsgType.EVENT, {"kind": "x", "data": {"blob": "a" * 4096}})), limits)
    with pytest.raises(MessageTooLarge):
        decode(encode(Envelope(MsgType.OBSERVATION, {"image": np.zeros((512, 512, 3), np.uint8)})), limits)
    with pytest.raises(MessageTooLarge):
        decode([b"x"] * 4, limits)


@pytest.mark.parametrize("argv", [["serve", "brain", "--model", "/nonexistent", "--host", "0.0.0.0"],
                                  ["serve", "policy", "--policy", "pi0", "--host", "0.0.0.0"],
                                  ["serve", "policy", "--policy", "pi0", "--zmq", "tcp://0.0.0.0:7710"]])
def test_model_servers_refuse_to_listen_beyond_loopback_without_a_key(argv: list[str]) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("ROBOOS_") or k.endswith("_HOME")}
    out = subprocess.run([sys.executable, "-m", "roboos.cli.main", *argv], check=False, capture_output=True,
                         text=True,
                         timeout=120, env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "refusing" in (out.stdout + out.stderr)


def test_brain_server_api_key(tmp_path: Path) -> None:
    import asyncio

    import httpx
    from roboos.brain.robobrain.tiny import make_tiny_robobrain
    from roboos.brain.server.serve import build_app
    from roboos.brain.server.settings import ServerSettings

    model = make_tiny_robobrain(tmp_path / "RoboBrain2.0-7B-tiny")
    app = build_app(ServerSettings(model=str(model), max_seq_len=512, default_max_tokens=2, api_key="s3cret"),
                    progress=False)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://brain") as client:
            assert (await client.get("/health")).status_code == 200
            denied = await client.get("/v1/models")
            assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
            assert (await client.get("/v1/models", headers={"Authorization": "Bearer wrong"})).status_code == 401
            assert (await client.get("/v1/models", headers={"Authorization": "Bearer s3cret"})).status_code == 200

    asyncio.run(main())
