"""Where CURVE keys live, and the cloud's security setting (``security:`` in the cloud config).

Layout of a key store (default ``~/.roboos/keys``, or ``$ROBOOS_KEYS``)::

    cloud.key, cloud.key_secret       the cloud's key pair (secret 0600), created on first use
    allowed/<robot>.key               public keys of the edges the cloud accepts (ZAP allow-list)

``roboos deploy`` writes a robot's public key into ``allowed/``; a running cloud picks it up at the
robot's first handshake.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from roboos.channel.security import (
    ChannelSecurity,
    KeyPair,
    load_keypair,
    load_public_key,
    save_keypair,
)

CLOUD_KEY_NAME = "cloud"


def default_key_dir() -> Path:
    return Path(os.environ.get("ROBOOS_KEYS", "~/.roboos/keys")).expanduser()


class KeyStore:
    """A folder holding the cloud key pair and the allow-list of edge public keys."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_key_dir()

    @property
    def allow_dir(self) -> Path:
        return self.root / "allowed"

    def cloud_keys(self, create: bool = True) -> KeyPair:
        """The cloud's key pair (generated, with a 0600 secret file, when absent and ``create``)."""
        if not (self.root / f"{CLOUD_KEY_NAME}.key_secret").exists():
            if not create:
                raise FileNotFoundError(f"no cloud key pair in {self.root}")
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            save_keypair(self.root, CLOUD_KEY_NAME, KeyPair.generate())
        return load_keypair(self.root, CLOUD_KEY_NAME)

    def cloud_public_key_path(self) -> Path:
        self.cloud_keys()
        return self.root / f"{CLOUD_KEY_NAME}.key"

    def allow(self, robot: str, public_key: bytes | str) -> Path:
        """Put ``robot``'s public key on the allow-list; returns the key file."""
        self.allow_dir.mkdir(parents=True, exist_ok=True)
        path = self.allow_dir / f"{robot}.key"
        raw = public_key.encode("ascii") if isinstance(public_key, str) else public_key
        path.write_bytes(raw.strip() + b"\n")
        load_public_key(path)  # validates the key
        return path

    def allowed(self, robot: str) -> bool:
        return (self.allow_dir / f"{robot}.key").exists()


class CloudSecurityConfig(BaseModel):
    """CURVE on the cloud's ROUTER: ``auto`` turns it on whenever the bind address is not loopback."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "on", "off"] = "auto"
    key_dir: str | None = None  # default ~/.roboos/keys (or $ROBOOS_KEYS)

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        """YAML reads a bare ``on`` / ``off`` as a boolean."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    def enabled_for(self, bind: str) -> bool:
        from roboos.channel.cloud import is_loopback

        return self.mode == "on" or (self.mode == "auto" and not is_loopback(bind))

    def channel_kwargs(self, bind: str) -> dict[str, object]:
        """Keyword arguments for :class:`~roboos.channel.CloudChannel`: ``security`` / ``allow_insecure``."""
        if self.mode == "off":
            return {"security": None, "allow_insecure": True}
        if not self.enabled_for(bind):
            return {"security": None}
        store = KeyStore(self.key_dir)
        store.allow_dir.mkdir(parents=True, exist_ok=True)
        return {"security": ChannelSecurity.for_cloud(store.cloud_keys(), allow_dir=store.allow_dir)}
