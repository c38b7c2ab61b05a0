"""Typed errors of the control plane, on both sides of the wire."""

from __future__ import annotations


class ControlPlaneError(RuntimeError):
    """Base class: the control plane could not do what was asked; the message says why."""


class ControlPlaneConfigError(ControlPlaneError):
    """The server refused to start (unsafe bind without a token, port in use, bad address)."""


class ControlPlaneUnavailable(ControlPlaneError):
    """No control plane answers at the address (no ``roboos cloud`` running there, or it went away)."""


class AuthenticationFailed(ControlPlaneError):
    """The server wants a token and the call carried none, or a wrong one."""


class TaskNotFound(ControlPlaneError, KeyError):
    """No task with that id on the server."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidRequest(ControlPlaneError, ValueError):
    """The server rejected the request's content (empty instruction, malformed task id, ...)."""


class RemoteError(ControlPlaneError):
    """Any other failure reported by the server, with its gRPC status code name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
