"""The bundle manifest: versions, profile, robot, and the SHA-256 and size of every file.

:func:`verify_bundle` refuses a bundle whose files were changed, removed or added (anything outside
``var/``, the folder for runtime logs), naming the file that failed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MANIFEST = "manifest.json"
RUNTIME_DIR = "var"
FORMAT = 1


class BundleError(RuntimeError):
    """A bundle that must not run; ``path`` is the file that failed (relative to the bundle)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    mode: str = "0644"


class Manifest(BaseModel):
    """``manifest.json`` of a bundle."""

    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    created: str
    robot: str
    kind: str
    profile: str
    cloud: str
    precision: str
    versions: dict[str, str | None]  # roboos, python, onnxruntime, torch, pyzmq, ...
    providers: list[str] = Field(default_factory=list)
    providers_note: str = ""
    models: list[dict[str, Any]] = Field(default_factory=list)
    files: dict[str, FileEntry]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundle_files(root: Path) -> list[str]:
    """Every file of the bundle (relative, sorted) except the manifest and the runtime folder."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir.parts and rel_dir.parts[0] == RUNTIME_DIR:
            dirnames[:] = []
            continue
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if rel != MANIFEST:
                out.append(rel)
    return sorted(out)


def write_manifest(root: Path, **meta: Any) -> Manifest:
    """Hash every file of ``root`` and write ``manifest.json``."""
    files = {rel: FileEntry(sha256=sha256_file(root / rel), size=(root / rel).stat().st_size,
                            mode=f"{(root / rel).stat().st_mode & 0o777:04o}") for rel in bundle_files(root)}
    manifest = Manifest(files=files, **meta)
    (root / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n")
    return manifest


def verify_bundle(root: str | Path) -> Manifest:
    """Check a bundle against its manifest; :class:`BundleError` names the first file that fails."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(str(root), "not a folder")
    path = root / MANIFEST
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise BundleError(MANIFEST, "missing: this is not a roboos deploy bundle") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise BundleError(MANIFEST, f"unreadable: {exc}") from None
    if manifest.format != FORMAT:
        raise BundleError(MANIFEST, f"bundle format {manifest.format}, this roboos reads {FORMAT}")
    for rel, entry in manifest.files.items():
        if Path(rel).is_absolute() or ".." in Path(rel).parts or "\\" in rel:
            raise BundleError(rel, "path outside the bundle")
        file = root / rel
        if not file.is_file():
            raise BundleError(rel, "missing (incomplete bundle)")
        if file.stat().st_size != entry.size or sha256_file(file) != entry.sha256:
            raise BundleError(rel, "content changed since the bundle was made (SHA-256 mismatch)")
        if rel.endswith(".key_secret") and file.stat().st_mode & 0o077:
            raise BundleError(rel, f"secret key readable by others (mode {file.stat().st_mode & 0o777:o}); chmod 600")
    extra = sorted(set(bundle_files(root)) - set(manifest.files))
    if extra:
        raise BundleError(extra[0], "not listed in the manifest (added after the bundle was made)")
    return manifest
