"""Bearer-token authentication of control-plane calls and the loopback rule for binding.

A server started with a token accepts only calls whose metadata carries ``authorization: Bearer <token>``
(compared in constant time); other calls end with ``UNAUTHENTICATED`` before reaching any servicer,
including the extra servicers (skill store, ...) sharing the server.
"""

from __future__ import annotations

import hmac
import ipaddress

import grpc

from roboos.controlplane.decoding import HandlerInterceptor, same_shape_handler

AUTH_METADATA_KEY = "authorization"


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying ``token`` (empty when there is no token)."""
    return ((AUTH_METADATA_KEY, f"Bearer {token}"),) if token else ()


def split_host_port(bind: str) -> tuple[str, int]:
    """``"127.0.0.1:7701"`` / ``"[::1]:0"`` / ``"localhost:7701"`` -> (host, port); ``ValueError`` if bad."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bad address {bind!r}: expected HOST:PORT, e.g. 127.0.0.1:7701")
    return host.strip("[]"), int(port)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1); False for anything else."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


class TokenAuthInterceptor(HandlerInterceptor):
    """Rejects calls without the right bearer token with ``UNAUTHENTICATED``."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("an empty token would let everyone in")
        self._expected = f"Bearer {token}".encode()

    def rewrite(self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        if self._authorized(details.invocation_metadata or ()):
            return handler
        return _denying_handler(handler)

    def _authorized(self, metadata: object) -> bool:
        for key, value in metadata:  # type: ignore[attr-defined]
            if key == AUTH_METADATA_KEY:
                given = value.encode() if isinstance(value, str) else bytes(value)
                return hmac.compare_digest(given, self._expected)
        return False


async def _deny(request: object, context: grpc.aio.ServicerContext) -> None:
    await context.abort(
        grpc.StatusCode.UNAUTHENTICATED,
        "missing or wrong token: pass --token or set ROBOOS_TOKEN (metadata 'authorization: Bearer ...')",
    )


def _denying_handler(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that ends every call with ``UNAUTHENTICATED``."""
    return same_shape_handler(handler, _deny)
