"""openpi-compatible websocket endpoint, so the unmodified ``openpi-client`` drives RoboOS policies.

Protocol (as the openpi client expects it): on connect the server sends one binary frame with the
policy metadata; then each binary frame from the client is an observation and is answered with one
binary frame holding the result (``actions`` plus ``server_timing`` and ``policy_timing``). Errors are
answered with a text frame (the openpi client raises it as ``RuntimeError``) and, unlike openpi's own
server, the connection stays open so the client can retry. ``GET /healthz`` answers 200 while the
inference worker is alive.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import logging
import time
from typing import Any

from roboos.brain.policies.base import ObservationError, Policy
from roboos.brain.policy_server.codec import WireError, WireLimits, pack, unpack
from roboos.brain.policy_server.worker import InferenceWorker

log = logging.getLogger(__name__)


def error_text(code: str, message: str) -> str:
    return f"{code}: {message}"


async def answer(
    policy: Policy, worker: InferenceWorker, raw: Any, limits: WireLimits, prev_total_ms: float | None
) -> tuple[bytes | str, bool]:
    """Decode, validate and run one observation; returns (reply frame, ok)."""
    if isinstance(raw, str):
        return error_text("bad_request", "observations must be binary msgpack frames, not text"), False
    try:
        obs = unpack(raw, limits)
    except WireError as exc:
        return error_text(exc.code, str(exc)), False
    try:
        prepared = await asyncio.get_running_loop().run_in_executor(None, policy.prepare, obs)
    except ObservationError as exc:
        return error_text(exc.code, str(exc)), False
    t0 = time.perf_counter()
    try:
        result = await worker.submit(prepared)
    except Exception as exc:
        log.warning("inference failed: %s", exc)
        return error_text(getattr(exc, "code", "inference_failed"), f"{type(exc).__name__}: {exc}"), False
    timing = {"infer_ms": (time.perf_counter() - t0) * 1e3}
    if prev_total_ms is not None:
        timing["prev_total_ms"] = prev_total_ms
    result["server_timing"] = timing
    return pack(result), True


class WebsocketEndpoint:
    """The openpi websocket server around a shared :class:`InferenceWorker`."""

    def __init__(
        self,
        policy: Policy,
        worker: InferenceWorker,
        host: str = "127.0.0.1",
        port: int = 8000,
        limits: WireLimits = WireLimits(),
        api_key: str | None = None,
        ssl: Any = None,
    ):
        self.policy, self.worker, self.host, self.port, self.limits = policy, worker, host, port, limits
        self.api_key = api_key
        self.ssl = ssl  # an ssl.SSLContext: serve wss:// (and https:// /healthz) only
        self._server: Any = None
        self.connections = 0

    async def start(self) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            compression=None,
            max_size=self.limits.max_message_bytes,
            process_request=self._health,
            ssl=self.ssl,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _health(self, connection: Any, request: Any) -> Any:
        """``/healthz`` (no key needed) and, when an API key is set, openpi's ``Api-Key`` header check."""
        if request.path == "/healthz":
            if self.worker.ready:
                return connection.respond(http.HTTPStatus.OK, "OK\n")
            state = "warming up" if self.worker.alive else "inference worker stopped"
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, state + "\n")
        if self.api_key is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Api-Key {self.api_key}".encode()):
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong API key\n")
        return None

    async def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        self.connections += 1
        prev_total: float | None = None
        try:
            await connection.send(pack(self.policy.metadata()))
            async for raw in connection:
                t0 = time.perf_counter()
                reply, _ok = await answer(self.policy, self.worker, raw, self.limits, prev_total)
                await connection.send(reply)
                prev_total = (time.perf_counter() - t0) * 1e3
        except ConnectionClosed:
            pass
        finally:
            self.connections -= 1
