"""The manifest of a skill package (``roboos-skill.json`` at the package root) and its checksum.

A package is a directory holding one Python module or package of ``@skill`` functions plus the
manifest. The checksum is the SHA-256 over every file except the manifest (and its optional signature,
``roboos-skill.sig``), in sorted path order, each
contributing its relative POSIX path and its bytes, so it is the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from roboos.skills.store.errors import PackageError

MANIFEST_NAME = "roboos-skill.json"
SIGNATURE_NAME = "roboos-skill.sig"  # optional, see signing.py; like the manifest, outside the checksum
_NAME = r"^[a-z][a-z0-9_]{0,63}$"
_VERSION = r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$"


class PackageManifest(BaseModel):
    """What a skill package declares about itself."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)  # also the import name of its module
    version: str = Field(pattern=_VERSION)
    description: str = ""
    embodiments: list[str] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)  # pip requirement strings, checked at install
    module: str = Field(default="", pattern=r"^$|^[A-Za-z_][A-Za-z0-9_]*$")  # defaults to ``name``
    checksum: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @property
    def module_name(self) -> str:
        return self.module or self.name


def package_files(root: Path) -> list[Path]:
    """Every regular file of a package except the manifest, its signature and Python caches, sorted."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or path.suffix == ".pyc" or rel.as_posix() in (MANIFEST_NAME, SIGNATURE_NAME):
            continue
        if path.is_symlink():
            raise PackageError("bad_package", f"package contains a symbolic link: {rel.as_posix()}")
        if path.is_file():
            files.append(path)
    return files


def compute_checksum(root: Path) -> str:
    """``sha256:<hex>`` over the package's files (paths and contents), the manifest excluded."""
    digest = hashlib.sha256()
    for path in package_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def read_manifest(root: Path) -> PackageManifest:
    """Load and validate the manifest; every problem is a :class:`PackageError` naming the field."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise PackageError("missing_manifest", f"no {MANIFEST_NAME} in the package")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageError("bad_manifest", f"{MANIFEST_NAME} is not valid JSON: {exc}") from None
    try:
        return PackageManifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"'{'.'.join(str(p) for p in e['loc']) or '<root>'}': {e['msg']}" for e in exc.errors(include_url=False)
        )
        missing = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing" and e["loc"]]
        code = "missing_manifest_field" if missing else "bad_manifest"
        raise PackageError(code, f"{MANIFEST_NAME}: {problems}", fields=missing) from None


def verify_checksum(root: Path, manifest: PackageManifest) -> None:
    """Raise ``checksum_mismatch`` unless the files hash to the manifest's checksum."""
    actual = compute_checksum(root)
    if actual != manifest.checksum:
        raise PackageError("checksum_mismatch",
                           f"package '{manifest.name}' checksum mismatch: manifest says {manifest.checksum}, "
                           f"files hash to {actual}", expected=manifest.checksum, actual=actual)


def write_manifest(root: Path, *, name: str, version: str, embodiments: list[str] | None = None,
                   dependencies: list[str] | None = None, description: str = "", module: str = "") -> PackageManifest:
    """Write a manifest with the current checksum into ``root`` (used by ``roboos skills publish``)."""
    if not re.match(_NAME, name):
        raise PackageError("bad_manifest", f"bad package name '{name}': lowercase letters, digits, '_'")
    manifest = PackageManifest(name=name, version=version, description=description,
                               embodiments=embodiments or [], dependencies=dependencies or [], module=module,
                               checksum=compute_checksum(root))
    (root / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n")
    return manifest
