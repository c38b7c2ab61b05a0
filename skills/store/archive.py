"""Zip archives of skill packages: deterministic packing and safe unpacking (no zip-slip, no links)."""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from roboos.skills.store.errors import PackageError
from roboos.skills.store.manifest import MANIFEST_NAME, SIGNATURE_NAME, package_files

MAX_ARCHIVE_BYTES = 16 * 1024 * 1024
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_FILES = 2000
_EPOCH = (1980, 1, 1, 0, 0, 0)


def pack(root: Path) -> bytes:
    """Zip a package directory (manifest and signature included) with fixed timestamps: equal trees, equal bytes."""
    if not (root / MANIFEST_NAME).is_file():
        raise PackageError("missing_manifest", f"no {MANIFEST_NAME} in {root}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        extra = [root / MANIFEST_NAME] + ([root / SIGNATURE_NAME] if (root / SIGNATURE_NAME).is_file() else [])
        for path in sorted(package_files(root) + extra):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_EPOCH)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or name.startswith(("/", "\\")) or "\\" in name or path.is_absolute() or ".." in path.parts \
            or (path.parts and ":" in path.parts[0]):
        raise PackageError("bad_archive", f"archive member escapes the package directory: {name!r}")
    return path


def unpack(data: bytes, dest: Path) -> None:
    """Extract a package archive into the (empty) directory ``dest``, refusing anything unsafe.

    Refused: non-zip data, oversized archives, absolute paths or ``..`` (zip-slip), symbolic links and
    other special files, too many files, and archives that would unpack beyond the size limit.
    """
    if len(data) > MAX_ARCHIVE_BYTES:
        raise PackageError("bad_archive", f"archive is {len(data)} bytes, over the {MAX_ARCHIVE_BYTES} limit")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as exc:  # corrupt directory too
        raise PackageError("bad_archive", f"not a zip archive: {exc}") from None
    try:
        _extract(zf, dest)
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise PackageError("bad_archive", f"corrupt archive: {type(exc).__name__}: {exc}") from None


def _extract(zf: zipfile.ZipFile, dest: Path) -> None:
    with zf:
        members = zf.infolist()
        if len(members) > MAX_FILES:
            raise PackageError("bad_archive", f"archive holds {len(members)} entries (limit {MAX_FILES})")
        total = 0
        for info in members:
            rel = _safe_member(info.filename)
            mode = info.external_attr >> 16
            if mode and (stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))):
                raise PackageError("bad_archive", f"archive member is a link or special file: {info.filename!r}")
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise PackageError("bad_archive", f"archive unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                out.write(src.read(MAX_UNPACKED_BYTES + 1))
