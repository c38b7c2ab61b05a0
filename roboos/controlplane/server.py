"""Start the gRPC control plane next to a running master: :func:`start_control_plane`.

The server runs on the caller's asyncio loop (grpc.aio), binds loopback by default and refuses to bind
anything else without a token: the control plane moves robots, so it is never open to a network by
accident. Other services (the skill store, ...) share the server and its authentication through
``extra_servicers``: callables that add a servicer to the ``grpc.aio.Server``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from roboos.controlplane.auth import TokenAuthInterceptor, is_loopback_host, split_host_port
from roboos.controlplane.decoding import DecodeGuardInterceptor
from roboos.controlplane.errors import ControlPlaneConfigError
from roboos.controlplane.gen import control_pb2_grpc as pb_grpc
from roboos.controlplane.servicer import RoboOSServicer

if TYPE_CHECKING:
    from roboos.master.master import Master

log = logging.getLogger(__name__)

DEFAULT_BIND = "127.0.0.1:7701"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass
class ControlPlane:
    """A running control-plane server. ``address`` is ``host:port`` with the real port (bind port 0 works)."""

    server: grpc.aio.Server
    servicer: RoboOSServicer
    address: str
    authenticated: bool
    tls: bool = False

    async def stop(self, grace: float = 1.0) -> None:
        """Stop accepting calls; open calls (watch streams) get ``grace`` seconds, then are cancelled."""
        await self.server.stop(grace)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


def check_bind(bind: str, token: str | None) -> tuple[str, int]:
    """Validate ``bind``; a non-loopback address without a token raises :class:`ControlPlaneConfigError`."""
    try:
        host, port = split_host_port(bind)
    except ValueError as exc:
        raise ControlPlaneConfigError(f"control plane: {exc}") from exc
    if not token and not is_loopback_host(host):
        raise ControlPlaneConfigError(
            f"control plane: refusing to bind {bind} without a token: it would let anyone on the network "
            "submit tasks. Set a token (control_plane.token_env in cloud.yaml names the environment "
            "variable) or bind 127.0.0.1."
        )
    return host, port


async def start_control_plane(
    master: Master,
    bind: str = DEFAULT_BIND,
    *,
    token: str | None = None,
    extra_servicers: Sequence[Callable[[grpc.aio.Server], None]] = (),
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
) -> ControlPlane:
    """Serve ``master`` over gRPC on ``bind``; return the running :class:`ControlPlane`.

    ``token``: when set, every call must carry ``authorization: Bearer <token>`` metadata; required for
    any non-loopback ``bind``. ``extra_servicers``: ``add_XServicer_to_server``-style callables run on
    the server before it starts. ``tls_cert``/``tls_key``: PEM files; with both, the server speaks TLS
    only (clients pass the CA that signed the certificate), so the token never crosses a network in
    clear text.
    """
    host, _ = check_bind(bind, token)
    credentials = _server_credentials(tls_cert, tls_key)
    if credentials is None and not is_loopback_host(host):
        log.warning(
            "control plane on %s without TLS: the token travels in clear text (pass tls_cert/tls_key)", bind
        )
    # the token is checked first; then request bytes that do not parse end with INVALID_ARGUMENT
    interceptors: list[grpc.aio.ServerInterceptor] = [TokenAuthInterceptor(token)] if token else []
    interceptors.append(DecodeGuardInterceptor())
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),  # a second cloud on the same port must fail, not share it
        ],
    )
    servicer = RoboOSServicer(master)
    pb_grpc.add_RoboOSServicer_to_server(servicer, server)
    for add in extra_servicers:
        add(server)
    try:
        port = server.add_secure_port(bind, credentials) if credentials else server.add_insecure_port(bind)
    except RuntimeError as exc:  # grpcio raises when the address cannot be bound
        raise ControlPlaneConfigError(
            f"control plane: cannot listen on {bind}: {exc} (is another cloud running?)"
        ) from exc
    if port == 0:  # older grpcio reports a bind failure as port 0
        raise ControlPlaneConfigError(f"control plane: cannot listen on {bind} (is another cloud running?)")
    await server.start()
    shown_host = f"[{host}]" if ":" in host else host
    address = f"{shown_host}:{port}"
    log.info(
        "control plane listening on %s%s%s",
        address,
        " (TLS)" if credentials else "",
        " (token required)" if token else "",
    )
    return ControlPlane(
        server=server,
        servicer=servicer,
        address=address,
        authenticated=bool(token),
        tls=credentials is not None,
    )


def _server_credentials(cert: str | Path | None, key: str | Path | None) -> grpc.ServerCredentials | None:
    from roboos.tls import TLSConfigError, check_tls_files

    try:
        files = check_tls_files(cert, key, owner="control plane")
    except TLSConfigError as exc:
        raise ControlPlaneConfigError(str(exc)) from None
    return grpc.ssl_server_credentials([files.pem_pair()]) if files else None
