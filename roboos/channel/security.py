"""CURVE encryption and ZAP key allow-listing for the channel sockets.

The cloud's ROUTER acts as a CURVE server with its own key pair and accepts only edges whose public
key is on the allow-list (checked by a ZAP handler thread; unknown keys are refused and logged). An edge
needs its own key pair plus the cloud's public key. Keys are Z85 text (40 characters); secret keys are
stored with mode 0600.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import zmq

log = logging.getLogger("roboos.channel.security")

ZAP_DOMAIN = "roboos"
SECRET_SUFFIX = ".key_secret"
PUBLIC_SUFFIX = ".key"


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair, Z85-encoded."""

    public: bytes
    secret: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        import zmq

        public, secret = zmq.curve_keypair()
        return cls(public=public, secret=secret)


@dataclass(frozen=True)
class ChannelSecurity:
    """CURVE settings of one channel end.

    Cloud: ``server=KeyPair`` and ``allowed_clients`` (Z85 public keys) and/or ``allow_dir`` (a folder
    of ``*.key`` files); with neither, any CURVE client is accepted (encrypted, not authenticated).
    Edge: ``client=KeyPair`` and ``server_public_key``.
    """

    server: KeyPair | None = None
    client: KeyPair | None = None
    server_public_key: bytes | None = None
    allowed_clients: frozenset[bytes] | None = field(default=None)
    allow_dir: Path | None = None  # folder of allowed ``*.key`` files, re-read for unknown keys

    @classmethod
    def for_cloud(cls, server: KeyPair, allowed_clients: Iterable[bytes | str] | None = None,
                  allow_dir: str | Path | None = None) -> ChannelSecurity:
        allowed = None if allowed_clients is None else frozenset(_key_bytes(k) for k in allowed_clients)
        return cls(server=server, allowed_clients=allowed, allow_dir=Path(allow_dir) if allow_dir else None)

    @classmethod
    def for_edge(cls, client: KeyPair, server_public_key: bytes | str) -> ChannelSecurity:
        return cls(client=client, server_public_key=_key_bytes(server_public_key))

    def apply_server(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a CURVE server (cloud side)."""
        if self.server is None:
            raise ValueError("ChannelSecurity for a cloud needs a server key pair")
        sock.curve_secretkey = self.server.secret
        sock.curve_publickey = self.server.public
        sock.curve_server = True
        sock.zap_domain = ZAP_DOMAIN.encode()

    def apply_client(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a CURVE client of the cloud (edge side)."""
        if self.client is None or self.server_public_key is None:
            raise ValueError("ChannelSecurity for an edge needs a client key pair and the cloud's public key")
        sock.curve_secretkey = self.client.secret
        sock.curve_publickey = self.client.public
        sock.curve_serverkey = self.server_public_key


class AllowList:
    """ZAP credentials provider: allowed Z85 public keys, editable while serving.

    With ``directory`` set, a key not yet known is looked up again in that folder's ``*.key`` files
    before being refused, so ``roboos deploy`` can register a robot while the cloud runs.
    """

    def __init__(self, keys: Iterable[bytes] | None, directory: str | Path | None = None) -> None:
        self._keys = None if keys is None and directory is None else set(keys or ())
        self.directory = Path(directory) if directory is not None else None
        self._lock = threading.Lock()
        self.rejected = 0

    def add(self, key: bytes | str) -> None:
        with self._lock:
            if self._keys is not None:
                self._keys.add(_key_bytes(key))

    def callback(self, domain: str, key: bytes) -> bool:
        with self._lock:
            ok = self._keys is None or key in self._keys
        if not ok and self.directory is not None:
            try:
                fresh = load_allow_list(self.directory)
            except (OSError, ValueError) as exc:
                log.warning("cannot read the allow-list folder %s: %s", self.directory, exc)
                fresh = []
            with self._lock:
                assert self._keys is not None
                self._keys.update(fresh)
                ok = key in self._keys
        if not ok:
            self.rejected += 1
            log.warning("refused an edge with unknown CURVE key %s", key.decode("ascii", "replace"))
        return ok


def start_authenticator(ctx: zmq.Context, security: ChannelSecurity) -> tuple[object, AllowList]:
    """Start a ZAP handler thread on ``ctx`` enforcing ``security.allowed_clients``."""
    from zmq.auth.thread import ThreadAuthenticator

    allow = AllowList(security.allowed_clients, security.allow_dir)
    auth = ThreadAuthenticator(ctx, log=logging.getLogger("roboos.channel.zap"))
    auth.start()
    auth.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=allow)
    return auth, allow


def save_keypair(directory: str | Path, name: str, pair: KeyPair) -> tuple[Path, Path]:
    """Write ``<name>.key`` (public) and ``<name>.key_secret`` (mode 0600) into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    public = d / f"{name}{PUBLIC_SUFFIX}"
    secret = d / f"{name}{SECRET_SUFFIX}"
    _write_private(public, pair.public + b"\n", 0o644)
    _write_private(secret, pair.secret + b"\n", 0o600)
    return public, secret


def load_keypair(directory: str | Path, name: str) -> KeyPair:
    """Read a pair written by :func:`save_keypair`; refuses a secret key readable by others."""
    d = Path(directory)
    secret_path = d / f"{name}{SECRET_SUFFIX}"
    mode = secret_path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{secret_path} has mode {mode:o}; secret keys must be 0600")
    return KeyPair(public=load_public_key(d / f"{name}{PUBLIC_SUFFIX}"),
                   secret=_key_bytes(secret_path.read_bytes()))


def load_public_key(path: str | Path) -> bytes:
    """Read one Z85 public key file."""
    return _key_bytes(Path(path).read_bytes())


def load_allow_list(directory: str | Path) -> list[bytes]:
    """Every ``*.key`` public key in ``directory`` (the cloud's allow-list folder)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return [load_public_key(p) for p in sorted(d.glob(f"*{PUBLIC_SUFFIX}"))]


def _write_private(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def _key_bytes(key: bytes | str) -> bytes:
    raw = key.encode("ascii") if isinstance(key, str) else bytes(key)
    raw = raw.strip()
    if len(raw) != 40:
        raise ValueError(f"a Z85 CURVE key has 40 characters, got {len(raw)}")
    return raw
