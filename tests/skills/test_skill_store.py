"""Skill store: publish/list/search/get/install, loader, and refusal of bad packages (nothing half-installed)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from roboos.skills.store import (
    MANIFEST_NAME,
    PackageError,
    SkillStore,
    install_archive,
    load_installed_skills,
    pack,
    write_manifest,
)

GOOD = '''
from roboos.robot import Robot
from roboos.skills import skill


@skill(embodiments=["arm"])
def wave_flag(robot: Robot, times: int = 3) -> dict:
    """Wave the flag held in the gripper."""
    return {"times": times}
'''


def make_pkg(tmp: Path, source: str = GOOD, name: str = "flags", version: str = "1.0.0") -> Path:
    root = tmp / f"{name}-{version}-src"
    root.mkdir()
    (root / f"{name}.py").write_text(source)
    write_manifest(root, name=name, version=version, embodiments=["arm"])
    return root


def test_publish_list_search_install_load(tmp_path: Path) -> None:
    store = SkillStore(tmp_path / "store.db")
    rec = store.publish(pack(make_pkg(tmp_path)))
    assert rec.name == "flags" and [c.name for c in rec.cards] == ["wave_flag"]
    store.publish(pack(make_pkg(tmp_path, name="flags", version="1.1.0")))
    assert [r.version for r in store.list()] == ["1.1.0"]
    assert len(store.list(all_versions=True)) == 2
    hits = store.search("wave a flag")
    assert hits and hits[0][1].name == "wave_flag"
    with pytest.raises(PackageError) as err:
        store.publish(store.archive("flags", "1.0.0"))
    assert err.value.code == "already_exists"
    edge = tmp_path / "edge-skills"
    store.install("flags", edge)
    specs = load_installed_skills(edge, embodiment="arm")
    assert [s.name for s in specs] == ["wave_flag"]
    assert load_installed_skills(edge, embodiment="drone") == []
    with pytest.raises(PackageError) as err:
        store.get("nope")
    assert err.value.code == "not_found"


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("import not_a_real_module_xyz\n", "import_error"),
        ("raise RuntimeError('boom at import')\n", "import_error"),
        ("from roboos.skills import skill\n\n@skill\ndef untyped(x):\n    '''No hints.'''\n", "bad_skill"),
        ("X = 1\n", "bad_skill"),
    ],
)
def test_bad_module_refused(tmp_path: Path, source: str, code: str) -> None:
    edge = tmp_path / "edge"
    with pytest.raises(PackageError) as err:
        install_archive(pack(make_pkg(tmp_path, source=source)), edge)
    assert err.value.code == code
    assert [p.name for p in edge.iterdir()] == []  # nothing half-installed


def test_missing_field_and_checksum_mismatch(tmp_path: Path) -> None:
    root = make_pkg(tmp_path)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    (root / "flags.py").write_text(GOOD + "\n# tampered\n")
    with pytest.raises(PackageError) as err:
        SkillStore().publish(pack(root))
    assert err.value.code == "checksum_mismatch"
    del manifest["version"]
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(PackageError) as err:
        SkillStore().publish(pack(root))
    assert err.value.code == "missing_manifest_field" and "version" in err.value.message


@pytest.mark.parametrize("member", ["../evil.py", "/abs/evil.py", "a/../../evil.py"])
def test_zip_slip_refused(tmp_path: Path, member: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(member, "x = 1\n")
    with pytest.raises(PackageError) as err:
        install_archive(buffer.getvalue(), tmp_path / "edge")
    assert err.value.code == "bad_archive"
    assert not (tmp_path / "evil.py").exists()


def test_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as err:
        SkillStore().publish(b"definitely not a zip")
    assert err.value.code == "bad_archive"


def test_reinstall_replaces_atomically(tmp_path: Path) -> None:
    edge = tmp_path / "edge"
    install_archive(pack(make_pkg(tmp_path)), edge)
    install_archive(pack(make_pkg(tmp_path, version="2.0.0")), edge)
    assert json.loads((edge / "flags" / MANIFEST_NAME).read_text())["version"] == "2.0.0"
    assert sorted(p.name for p in edge.iterdir()) == ["flags"]


def test_repeated_publish_is_refused_before_the_import(tmp_path: Path, monkeypatch) -> None:
    import subprocess

    store = SkillStore(tmp_path / "store.db")
    data = pack(make_pkg(tmp_path))
    store.publish(data)

    def no_import(*args, **kwargs):
        raise AssertionError("a repeated name+version must not start an import child process")

    monkeypatch.setattr(subprocess, "run", no_import)
    with pytest.raises(PackageError) as err:
        store.publish(data)
    assert err.value.code == "already_exists"
