"""The cloud <-> edge data-plane channel: ZeroMQ ROUTER (cloud) / DEALER (edge) over the wire protocol.

See ``docs/channel.md``. Both ends run on an asyncio event loop; the socket is driven directly by the
loop's reader callback, so a message costs no thread hop and no extra task. Names are imported lazily
(pyzmq loads only when a channel class is used), so configs can import ``roboos.channel.keystore``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CloudChannel": "cloud", "RobotLink": "cloud", "is_loopback": "cloud",
    "EdgeChannel": "edge",
    "CallTimeout": "errors", "ChannelError": "errors", "ChannelRejected": "errors", "RemoteError": "errors",
    "RobotOffline": "errors",
    "ChannelStats": "base",
    "ChannelSecurity": "security", "KeyPair": "security", "load_keypair": "security", "save_keypair": "security",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'roboos.channel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"roboos.channel.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
