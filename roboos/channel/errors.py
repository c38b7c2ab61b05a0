"""Typed errors raised by the data-plane channel."""

from __future__ import annotations

from typing import Any


class ChannelError(RuntimeError):
    """Base class of every channel failure."""


class CallTimeout(ChannelError, TimeoutError):
    """No reply arrived within the call's timeout."""


class RobotOffline(ChannelError):
    """The robot is not registered, or did not come back within the grace period."""


class ChannelRejected(ChannelError):
    """Raised by an ``on_hello`` handler to refuse a robot; the edge gets an ERROR ``rejected``."""


class RemoteError(ChannelError):
    """The peer answered with an ERROR message."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
