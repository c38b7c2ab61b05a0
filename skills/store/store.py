"""The SQLite-backed skill package store: publish, list, search, get and install.

Publishing validates a package archive completely before anything is written: safe unpacking, the
manifest, the checksum, and an import of the module in a child process (import errors, functions
without type hints, missing ``@skill`` functions). Installing unpacks into a temporary directory next
to the target, re-verifies it and swaps it into place with renames, so an edge never sees a
half-installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from roboos.skills.card import SkillCard
from roboos.skills.index import version_key
from roboos.skills.store.archive import unpack
from roboos.skills.store.errors import PackageError
from roboos.skills.store.manifest import PackageManifest, read_manifest, verify_checksum
from roboos.skills.store.signing import load_trusted_keys, verify_package_signature

_SCHEMA = """
CREATE TABLE IF NOT EXISTS packages (
    name TEXT NOT NULL, version TEXT NOT NULL, manifest TEXT NOT NULL, cards TEXT NOT NULL,
    archive BLOB NOT NULL, published_at REAL NOT NULL, PRIMARY KEY (name, version)
);
"""
INSPECT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PackageRecord:
    """One stored package version."""

    manifest: PackageManifest
    cards: list[SkillCard]
    published_at: float
    size: int

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version


def inspect_archive(data: bytes, *, before_import: Callable[[PackageManifest], None] | None = None,
                    trusted_keys: dict[str, bytes] | None = None) -> tuple[PackageManifest, list[SkillCard]]:
    """Fully validate an archive (unpack, manifest, checksum, signature, import in a child process).

    ``trusted_keys`` (key id -> ed25519 public key, see :mod:`~roboos.skills.store.signing`): when not
    empty, the package must carry a valid signature by one of them. ``before_import`` runs on the
    verified manifest before the (costly) import and may refuse it.
    """
    with tempfile.TemporaryDirectory(prefix="roboos-pkg-") as tmp:
        root = Path(tmp)
        unpack(data, root)
        manifest = read_manifest(root)
        verify_checksum(root, manifest)
        if trusted_keys:
            verify_package_signature(root, trusted_keys)
        if before_import is not None:
            before_import(manifest)
        try:
            proc = subprocess.run([sys.executable, "-m", "roboos.skills.store.inspect_pkg", str(root)],
                                  check=False, capture_output=True, text=True, timeout=INSPECT_TIMEOUT_S, cwd=tmp,
                                  env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        except subprocess.TimeoutExpired:
            raise PackageError("import_error", f"importing package '{manifest.name}' took over "
                                               f"{INSPECT_TIMEOUT_S:g} s") from None
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PackageError("import_error", f"package '{manifest.name}' crashed the importer: {tail[0]}")
        result = json.loads(lines[-1])
        if not result.get("ok"):
            raise PackageError(result.get("code", "bad_package"), result.get("message", "refused"))
        return manifest, [SkillCard.model_validate(c) for c in result["cards"]]


class SkillStore:
    """Persistent package store in one SQLite file (``":memory:"`` works for tests).

    ``trusted_keys``: public keys (lines, a ``.pub`` file or a folder, see :func:`load_trusted_keys`);
    ``None`` reads ``$ROBOOS_SKILL_TRUSTED_KEYS``. With keys, only packages signed by one of them are
    published or installed.
    """

    def __init__(self, path: str | Path = ":memory:", *, trusted_keys: str | Path | list[str] | None = None) -> None:
        self.trusted_keys = load_trusted_keys(trusted_keys)
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----------------------------------------------------------------- writes
    def publish(self, data: bytes, *, overwrite: bool = False) -> PackageRecord:
        """Validate and store a package archive; the same name+version is refused unless ``overwrite``."""

        def refuse_existing(manifest: PackageManifest) -> None:  # the caller holds self._lock
            exists = self._db.execute("SELECT 1 FROM packages WHERE name=? AND version=?",
                                      (manifest.name, manifest.version)).fetchone()
            if exists and not overwrite:
                raise PackageError("already_exists", f"package {manifest.name} {manifest.version} is already "
                                                     "published; bump the version")

        def check_early(manifest: PackageManifest) -> None:  # so a repeated publish costs no child process
            with self._lock:
                refuse_existing(manifest)

        manifest, cards = inspect_archive(data, before_import=check_early, trusted_keys=self.trusted_keys)
        with self._lock, self._db:
            refuse_existing(manifest)  # again: another publish may have won the race meanwhile
            self._db.execute(
                "INSERT OR REPLACE INTO packages VALUES (?, ?, ?, ?, ?, ?)",
                (manifest.name, manifest.version, manifest.model_dump_json(),
                 json.dumps([c.model_dump(mode="json") for c in cards]), data, time.time()))
        return PackageRecord(manifest, cards, time.time(), len(data))

    # ----------------------------------------------------------------- reads
    def _records(self, where: str = "", params: Sequence[object] = ()) -> list[PackageRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT manifest, cards, published_at, length(archive) FROM packages {where}", params).fetchall()
        records = [PackageRecord(PackageManifest.model_validate_json(m),
                                 [SkillCard.model_validate(c) for c in json.loads(cards)], ts, size)
                   for m, cards, ts, size in rows]
        return sorted(records, key=lambda r: (r.name, version_key(r.version)))

    def list(self, *, all_versions: bool = False) -> list[PackageRecord]:
        """Stored packages (the latest version of each unless ``all_versions``)."""
        records = self._records()
        if all_versions:
            return records
        latest: dict[str, PackageRecord] = {}
        for rec in records:
            latest[rec.name] = rec  # sorted ascending, so the last one wins
        return list(latest.values())

    def get(self, name: str, version: str | None = None) -> PackageRecord:
        """One package (latest version by default); ``not_found`` names what exists."""
        records = self._records("WHERE name=?", (name,))
        if version is not None:
            records = [r for r in records if r.version == version]
        if not records:
            known = sorted({r.name for r in self._records()})
            raise PackageError("not_found", f"no package '{name}'{' ' + version if version else ''} in the store; "
                                            f"known: {', '.join(known) or 'none'}")
        return records[-1]

    def archive(self, name: str, version: str | None = None) -> bytes:
        rec = self.get(name, version)
        with self._lock:
            row = self._db.execute("SELECT archive FROM packages WHERE name=? AND version=?",
                                   (rec.name, rec.version)).fetchone()
        return bytes(row[0])

    def search(self, query: str, *, k: int = 10, embodiments: Sequence[str] | None = None,
               retriever: object | None = None) -> list[tuple[PackageRecord, SkillCard, float]]:
        """Skills of the latest packages that fit ``query`` (BM25 unless a retriever is given)."""
        from roboos.skills.retrieval.retriever import SkillRetriever

        owner: dict[str, PackageRecord] = {}
        cards: list[SkillCard] = []
        for rec in self.list():
            for card in rec.cards:
                if card.name not in owner:
                    owner[card.name] = rec
                    cards.append(card)
        engine = retriever if isinstance(retriever, SkillRetriever) else SkillRetriever(None)
        hits = engine.retrieve(query, cards, k=k, embodiments=embodiments)
        return [(owner[h.card.name], h.card, h.score) for h in hits if h.score > 0]

    # ----------------------------------------------------------------- install
    def install(self, name: str, skills_dir: str | Path, version: str | None = None) -> PackageRecord:
        """Install a stored package into an edge's skill directory (see :func:`install_archive`)."""
        rec = self.get(name, version)
        install_archive(self.archive(rec.name, rec.version), skills_dir, trusted_keys=self.trusted_keys)
        return rec


def install_archive(data: bytes, skills_dir: str | Path, *,
                    trusted_keys: str | Path | list[str] | dict[str, bytes] | None = None) -> PackageManifest:
    """Unpack, verify and atomically install a package archive as ``skills_dir/<name>``.

    The archive is unpacked into a temporary directory inside ``skills_dir`` and checked (manifest,
    checksum, signature when ``trusted_keys`` or ``$ROBOOS_SKILL_TRUSTED_KEYS`` give keys, import in a
    child process) before a rename swaps it in; the previous version, if any, is renamed away first and
    deleted after. On any error nothing changes in ``skills_dir``.
    """
    base = Path(skills_dir)
    base.mkdir(parents=True, exist_ok=True)
    keys = trusted_keys if isinstance(trusted_keys, dict) else load_trusted_keys(trusted_keys)
    manifest, _ = inspect_archive(data, trusted_keys=keys)
    staging = Path(tempfile.mkdtemp(prefix=f".install-{manifest.name}-", dir=base))
    try:
        unpack(data, staging)
        verify_checksum(staging, read_manifest(staging))
        target = base / manifest.name
        old = None
        if target.exists():
            old = base / f".old-{manifest.name}-{os.getpid()}-{time.time_ns()}"
            os.rename(target, old)
        try:
            os.rename(staging, target)
        except OSError as exc:
            if old is not None:
                os.rename(old, target)
            raise PackageError("install_error", f"cannot install into {target}: {exc}") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return manifest
