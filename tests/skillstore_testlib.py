"""Test helper shared by several areas: a real skill-store file holding one package written from source."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def publish_source_package(tmp: Path, name: str, source: str, *, store_name: str = "store.db",
                           **manifest: Any) -> Path:
    """Write ``source`` as module ``<name>.py`` of a package ``name`` (manifest fields from ``manifest``), pack
    and publish it into a new SQLite skill store under ``tmp``; return the store's path."""
    from roboos.skills.store import SkillStore, pack, write_manifest

    pkg = tmp / f"{name}_pkg"
    pkg.mkdir()
    (pkg / f"{name}.py").write_text(source)
    write_manifest(pkg, name=name, version=manifest.pop("version", "1.0.0"), **manifest)
    path = tmp / store_name
    store = SkillStore(path)
    try:
        store.publish(pack(pkg))
    finally:
        store.close()
    return path
