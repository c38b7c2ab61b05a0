"""Optional ed25519 signatures of skill packages.

A publisher makes a key pair once (``roboos skills keygen``): a private key (PEM, mode 0600) and a
public key line ``ed25519 <base64> [comment]``. Signing a package writes ``roboos-skill.sig`` next to
the manifest: the signature of the manifest's exact bytes, whose checksum covers every other file, so
one signature covers the whole package. A store or an edge configured with trusted public keys (an
explicit list, or ``ROBOOS_SKILL_TRUSTED_KEYS`` naming a ``.pub`` file or a folder of them) refuses
unsigned packages (``unsigned``), signatures by other keys (``untrusted_key``) and signatures that do
not verify (``bad_signature``), before anything is imported. Without trusted keys nothing is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from roboos.skills.store.errors import PackageError
from roboos.skills.store.manifest import MANIFEST_NAME, SIGNATURE_NAME

TRUST_ENV = "ROBOOS_SKILL_TRUSTED_KEYS"
_CONTEXT = b"roboos-skill-signature-v1\0"
_MAX_SIG_BYTES = 4096


def _crypto():  # cryptography is imported only when signatures are used
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519, serialization, InvalidSignature


def key_id(public_raw: bytes) -> str:
    """A short, stable name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def parse_public_key(line: str) -> bytes:
    """The raw 32 bytes of a public key line ``ed25519 <base64> [comment]``; ``bad_key`` otherwise."""
    parts = line.split()
    try:
        if len(parts) < 2 or parts[0] != "ed25519":
            raise ValueError("expected 'ed25519 <base64> [comment]'")
        raw = base64.b64decode(parts[1], validate=True)
        if len(raw) != 32:
            raise ValueError(f"an ed25519 public key has 32 bytes, not {len(raw)}")
    except (ValueError, binascii.Error) as exc:
        raise PackageError("bad_key", f"bad public key line {line[:80]!r}: {exc}") from None
    return raw


def generate_key(path: str | Path, comment: str = "") -> str:
    """Write a new private key to ``path`` (0600) and its public key line to ``path.pub``; return that line."""
    ed25519, serialization, _ = _crypto()
    private = ed25519.Ed25519PrivateKey.generate()
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    line = f"ed25519 {base64.b64encode(raw).decode()} {comment or key_id(raw)}".rstrip() + "\n"
    Path(f"{target}.pub").write_text(line)
    return line.strip()


def _load_private(path: str | Path):  # -> Ed25519PrivateKey
    ed25519, serialization, _ = _crypto()
    target = Path(path).expanduser()
    try:
        if target.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PackageError("bad_key", f"signing key {target} is readable by group/others; chmod 600 {target}")
        key = serialization.load_pem_private_key(target.read_bytes(), password=None)
    except OSError as exc:
        raise PackageError("bad_key", f"cannot read the signing key {target}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise PackageError("bad_key", f"{target} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise PackageError("bad_key", f"{target} is not an ed25519 key")
    return key


def sign_package(root: str | Path, key_path: str | Path) -> str:
    """Sign the package directory ``root`` (its manifest must be current); returns the key id."""
    _, serialization, _ = _crypto()
    base = Path(root)
    manifest = base / MANIFEST_NAME
    if not manifest.is_file():
        raise PackageError("missing_manifest", f"no {MANIFEST_NAME} in {base}: write the manifest, then sign")
    key = _load_private(key_path)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = key.sign(_CONTEXT + manifest.read_bytes())
    (base / SIGNATURE_NAME).write_text(json.dumps({"algorithm": "ed25519", "key_id": key_id(raw),
                                                   "signature": base64.b64encode(signature).decode()}) + "\n")
    return key_id(raw)


def load_trusted_keys(source: str | Path | Iterable[str] | None = None) -> dict[str, bytes]:
    """Trusted public keys by key id, from key lines, a ``.pub`` file, a folder of ``*.pub`` files, or
    (``source=None``) the path in ``$ROBOOS_SKILL_TRUSTED_KEYS``; empty when nothing is configured."""
    if source is None:
        source = os.environ.get(TRUST_ENV) or None
        if source is None:
            return {}
    if isinstance(source, (str, Path)) and not str(source).lstrip().startswith("ed25519 "):
        path = Path(source).expanduser()
        files = sorted(path.glob("*.pub")) if path.is_dir() else [path]
        lines: list[str] = []
        for file in files:
            try:
                lines += file.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise PackageError("bad_key", f"cannot read trusted keys from {file}: {exc}") from None
    else:
        lines = [source] if isinstance(source, str) else [str(s) for s in source]  # type: ignore[union-attr]
    keys = [parse_public_key(ln) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not keys:
        raise PackageError("bad_key", f"no public keys in {source}")
    return {key_id(raw): raw for raw in keys}


def verify_package_signature(root: Path, trusted: dict[str, bytes]) -> str:
    """Check ``root``'s signature against ``trusted`` keys; return the signer's key id or raise."""
    ed25519, _, invalid = _crypto()
    sig_path = root / SIGNATURE_NAME
    if not sig_path.is_file():
        raise PackageError("unsigned", f"package is not signed ({SIGNATURE_NAME} missing) and this store/edge "
                                       "accepts only packages signed by a trusted key")
    try:
        if sig_path.stat().st_size > _MAX_SIG_BYTES:
            raise ValueError(f"over {_MAX_SIG_BYTES} bytes")
        sig = json.loads(sig_path.read_bytes())
        if not isinstance(sig, dict) or sig.get("algorithm") != "ed25519" or not isinstance(sig.get("key_id"), str):
            raise ValueError("expected {algorithm: ed25519, key_id, signature}")
        signature = base64.b64decode(str(sig.get("signature")), validate=True)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise PackageError("bad_signature", f"{SIGNATURE_NAME} is malformed: {exc}") from None
    raw = trusted.get(sig["key_id"])
    if raw is None:
        raise PackageError("untrusted_key", f"package is signed by key {sig['key_id'][:16]!r}, which is not trusted")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(raw).verify(signature, _CONTEXT + (root / MANIFEST_NAME).read_bytes())
    except invalid:
        raise PackageError("bad_signature", f"the signature by key {sig['key_id']} does not match the package") from None
    return sig["key_id"]
