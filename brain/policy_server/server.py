"""The policy server: one inference worker behind the openpi websocket and the native ZeroMQ endpoints."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from roboos.brain.policies.base import Policy
from roboos.brain.policy_server.websocket_endpoint import WebsocketEndpoint
from roboos.brain.policy_server.worker import InferenceWorker
from roboos.brain.policy_server.zmq_endpoint import ZmqEndpoint

from roboos.tls import TLSFiles


@dataclass
class ServerAddresses:
    websocket: str | None
    zmq: str | None


class PolicyServer:
    """Serve ``policy`` on ``ws://host:port`` (openpi protocol) and ``zmq_bind`` (RoboOS envelopes).

    ``tls``: checked certificate/key files (:func:`roboos.tls.check_tls_files`); the websocket then
    speaks ``wss://`` only. The ZeroMQ endpoint stays loopback-only (it has no CURVE).
    """

    def __init__(
        self,
        policy: Policy,
        *,
        host: str = "127.0.0.1",
        port: int | None = 8000,
        zmq_bind: str | None = "tcp://127.0.0.1:7710",
        max_batch: int | None = None,
        gather_ms: float = 2.0,
        api_key: str | None = None,
        tls: TLSFiles | None = None,
    ):
        self.policy = policy
        self.worker = InferenceWorker(policy, max_batch=max_batch, gather_ms=gather_ms)
        self.ws = (
            WebsocketEndpoint(policy, self.worker, host, port, api_key=api_key,
                              ssl=tls.server_context() if tls else None)
            if port is not None
            else None
        )
        self.zmq = ZmqEndpoint(policy, self.worker, zmq_bind) if zmq_bind else None

    async def start(self) -> ServerAddresses:
        self.worker.start()
        if self.ws:
            await self.ws.start()
        if self.zmq:
            await self.zmq.start()
        return self.addresses

    @property
    def addresses(self) -> ServerAddresses:
        return ServerAddresses(
            f"{'wss' if self.ws.ssl else 'ws'}://{self.ws.host}:{self.ws.port}" if self.ws else None,
            self.zmq.endpoint if self.zmq else None,
        )

    async def close(self) -> None:
        if self.ws:
            await self.ws.close()
        if self.zmq:
            await self.zmq.close()
        await asyncio.get_running_loop().run_in_executor(None, self.worker.stop)

    async def serve_forever(self, stop: asyncio.Event | None = None) -> None:
        await self.start()
        try:
            await (stop or asyncio.Event()).wait()
        finally:
            await self.close()

    def stats(self) -> dict[str, Any]:
        s = self.worker.stats
        return {"requests": s.requests, "batches": s.batches, "errors": s.errors, "max_batch": s.max_batch}


class BackgroundPolicyServer:
    """A :class:`PolicyServer` running on its own event loop in a daemon thread (embedding, tests).

    ``with BackgroundPolicyServer(policy, port=0, zmq_bind="tcp://127.0.0.1:0") as srv: srv.addresses``
    """

    def __init__(self, policy: Policy, **kwargs: Any):
        self.server = PolicyServer(policy, **kwargs)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="policy-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            try:
                await self.server.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self._stop.wait()
            await self.server.close()

        self.loop.run_until_complete(main())
        self.loop.close()

    def start(self, timeout: float = 30.0) -> BackgroundPolicyServer:
        self.thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the policy server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the policy server failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self._stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout)

    @property
    def addresses(self) -> ServerAddresses:
        return self.server.addresses

    def __enter__(self) -> BackgroundPolicyServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
