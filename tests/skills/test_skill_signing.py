"""Optional ed25519 signatures of skill packages: keygen, sign, and stores/edges that trust only some keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from roboos.skills.store import (
    PackageError,
    SkillStore,
    generate_key,
    install_archive,
    load_trusted_keys,
    pack,
    sign_package,
    write_manifest,
)
from roboos.skills.store.signing import SIGNATURE_NAME

SRC = '''
from roboos.skills import skill


@skill
def beep(times: int = 1) -> str:
    """Beep."""
    return "beep" * times
'''


def make_pkg(tmp: Path, name: str = "beeper", version: str = "1.0.0") -> Path:
    root = tmp / f"{name}-{version}"
    root.mkdir()
    (root / f"{name}.py").write_text(SRC)
    write_manifest(root, name=name, version=version)
    return root


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    generate_key(folder / "alice", "alice@lab")
    generate_key(folder / "mallory")
    return {"alice": folder / "alice", "mallory": folder / "mallory"}


def refused(code: str, fn, *args, **kwargs) -> None:
    with pytest.raises(PackageError) as err:
        fn(*args, **kwargs)
    assert err.value.code == code, err.value


def test_keygen_writes_a_private_key_0600_and_a_public_line(keys) -> None:
    assert keys["alice"].stat().st_mode & 0o777 == 0o600
    line = Path(f"{keys['alice']}.pub").read_text()
    assert line.startswith("ed25519 ") and line.strip().endswith("alice@lab")
    assert len(load_trusted_keys(Path(f"{keys['alice']}.pub"))) == 1
    with pytest.raises(FileExistsError):
        generate_key(keys["alice"])


def test_store_with_trusted_keys_takes_only_their_signatures(keys, tmp_path: Path) -> None:
    store = SkillStore(tmp_path / "s.db", trusted_keys=Path(f"{keys['alice']}.pub"))
    root = make_pkg(tmp_path)
    refused("unsigned", store.publish, pack(root))
    sign_package(root, keys["mallory"])
    refused("untrusted_key", store.publish, pack(root))
    sign_package(root, keys["alice"])
    signed = pack(root)
    (root / "beeper.py").write_text(SRC + "\n# changed after signing\n")
    write_manifest(root, name="beeper", version="1.0.0")  # a fresh checksum, but the old signature
    refused("bad_signature", store.publish, pack(root))
    sig = json.loads((root / SIGNATURE_NAME).read_text())
    (root / SIGNATURE_NAME).write_text(json.dumps({**sig, "signature": "not base64!"}))
    refused("bad_signature", store.publish, pack(root))
    rec = store.publish(signed)
    assert rec.name == "beeper" and [c.name for c in rec.cards] == ["beep"]
    # an edge trusting alice (through the environment) installs it; one trusting only mallory refuses it
    assert install_archive(signed, tmp_path / "edge", trusted_keys=[Path(f"{keys['alice']}.pub").read_text()]).name
    refused("untrusted_key", install_archive, signed, tmp_path / "edge2",
            trusted_keys=Path(f"{keys['mallory']}.pub"))
    assert not (tmp_path / "edge2" / "beeper").exists()


def test_trust_from_the_environment_and_unsigned_without_trust(keys, tmp_path: Path, monkeypatch) -> None:
    root = make_pkg(tmp_path, "plain")
    data = pack(root)
    monkeypatch.setenv("ROBOOS_SKILL_TRUSTED_KEYS", str(keys["alice"].parent))  # a folder of *.pub files
    assert len(SkillStore(":memory:").trusted_keys) == 2
    refused("unsigned", install_archive, data, tmp_path / "edge")
    monkeypatch.delenv("ROBOOS_SKILL_TRUSTED_KEYS")
    assert SkillStore(":memory:").trusted_keys == {}
    assert install_archive(data, tmp_path / "edge").name == "plain"  # no trust configured: no check


def test_bad_keys_are_typed_errors(keys, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_bytes(keys["alice"].read_bytes())
    loose.chmod(0o644)
    refused("bad_key", sign_package, make_pkg(tmp_path), loose)
    refused("bad_key", load_trusted_keys, ["ssh-rsa AAAA"])
    refused("bad_key", load_trusted_keys, ["ed25519 AAAA"])
    (tmp_path / "empty.pub").write_text("# nobody\n")
    refused("bad_key", load_trusted_keys, tmp_path / "empty.pub")


def test_cli_keygen_and_signed_publish(keys, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from roboos.cli.main import app

    runner = CliRunner()
    key = tmp_path / "k"
    assert runner.invoke(app, ["skills", "keygen", str(key)]).exit_code == 0
    monkeypatch.setenv("ROBOOS_SKILL_TRUSTED_KEYS", f"{key}.pub")
    store = tmp_path / "s.db"
    root = make_pkg(tmp_path, "clipkg")
    unsigned = runner.invoke(app, ["skills", "publish", str(root), "--store", str(store)])
    assert unsigned.exit_code == 2 and "unsigned" in unsigned.output
    ok = runner.invoke(app, ["skills", "publish", str(root), "--store", str(store), "--sign-key", str(key)])
    assert ok.exit_code == 0, ok.output


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300), st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(
    st.sampled_from(["algorithm", "key_id", "signature", "x"]),
    st.one_of(st.text(max_size=40), st.integers(), st.none(), st.just("ed25519"))))))
def test_signature_file_decoder_only_raises_typed_errors(keys, tmp_path: Path, data: bytes) -> None:
    from roboos.skills.store.signing import verify_package_signature

    root = tmp_path / "fuzzed-1.0.0"
    if not root.exists():
        root = make_pkg(tmp_path, "fuzzed")
    (root / SIGNATURE_NAME).write_bytes(data)
    with pytest.raises(PackageError) as err:
        verify_package_signature(root, load_trusted_keys(Path(f"{keys['alice']}.pub")))
    assert err.value.code in ("bad_signature", "untrusted_key")


def test_edge_skills_dir_checks_signatures_before_import(keys, tmp_path: Path) -> None:
    from roboos.skills.store.loader import load_installed_skills

    skills_dir = tmp_path / "skills"
    signed = make_pkg(tmp_path, "beeper")
    sign_package(signed, keys["alice"])
    install_archive(pack(signed), skills_dir)
    marker = tmp_path / "imported"
    copied = skills_dir / "sneaky"  # copied in by hand, never through a store
    copied.mkdir()
    (copied / "sneaky.py").write_text(f"open({str(marker)!r}, 'w').close()\n" + SRC.replace("beep", "honk"))
    write_manifest(copied, name="sneaky", version="1.0.0")
    alice = Path(f"{keys['alice']}.pub")
    assert [s.name for s in load_installed_skills(skills_dir, names=["beeper"], trusted_keys=alice)] == ["beep"]
    with pytest.raises(PackageError) as err:
        load_installed_skills(skills_dir, trusted_keys=alice)
    assert err.value.code == "unsigned" and "sneaky" in err.value.message
    assert not marker.exists()  # refused before its code ran
    assert sorted(s.name for s in load_installed_skills(skills_dir, trusted_keys={})) == ["beep", "honk"]
    assert marker.exists()
