"""The native ZeroMQ endpoint: RoboOS wire envelopes (:mod:`roboos.protocol`) over a ROUTER socket.

Clients (``DEALER`` sockets, e.g. :class:`~roboos.brain.policy_server.client.PolicyClient`) send:

* ``hello`` → answered ``welcome`` with ``{"policy": metadata}``;
* ``observation`` with ``{"observation": {...}}`` (images and state travel as raw array frames) →
  answered ``action`` with ``{"actions": (H, D) array, "server_timing": ..., ...}``;
* ``heartbeat`` → echoed.

Malformed frames and bad observations are answered ``error`` (``ErrorBody``: code, message) and the
socket keeps serving. Replies carry ``reply_to`` = the request id, so requests may be pipelined.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from roboos.brain.policies.base import ObservationError, Policy
from roboos.brain.policy_server.worker import InferenceWorker

from roboos.protocol import DEFAULT_LIMITS, Envelope, Limits, MsgType, ProtocolError, decode, encode

log = logging.getLogger(__name__)


class ZmqEndpoint:
    """A ROUTER socket serving one policy through a shared :class:`InferenceWorker`."""

    def __init__(
        self,
        policy: Policy,
        worker: InferenceWorker,
        bind: str = "tcp://127.0.0.1:7710",
        limits: Limits = DEFAULT_LIMITS,
        name: str = "policy",
    ):
        self.policy, self.worker, self.bind, self.limits, self.name = policy, worker, bind, limits, name
        self.endpoint = bind
        self.dropped = 0
        self._sock: Any = None
        self._ctx: Any = None
        self._task: asyncio.Task | None = None
        self._pending: set[asyncio.Task] = set()
        self._send_lock = asyncio.Lock()

    async def start(self) -> None:
        import zmq
        import zmq.asyncio

        self._ctx = zmq.asyncio.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        if self.bind.endswith(":0"):
            port = self._sock.bind_to_random_port(self.bind[:-2])
            self.endpoint = f"{self.bind[:-2]}:{port}"
        else:
            self._sock.bind(self.bind)
            self.endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._task = asyncio.create_task(self._serve())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for t in list(self._pending):
            t.cancel()
        if self._sock is not None:
            self._sock.close(0)
            self._ctx.term()

    async def _send(self, identity: bytes, env: Envelope) -> None:
        async with self._send_lock:
            await self._sock.send_multipart([identity, *encode(env)], copy=False)

    async def _serve(self) -> None:
        while True:
            frames = await self._sock.recv_multipart(copy=False)
            identity, payload = frames[0].bytes, frames[1:]
            try:
                env = decode(payload, self.limits)
            except ProtocolError as exc:
                self.dropped += 1
                err = Envelope(
                    MsgType.ERROR, {"code": exc.code, "message": str(exc), "details": {}}, src=self.name
                )
                await self._send(identity, err)
                continue
            task = asyncio.create_task(self._handle(identity, env))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _handle(self, identity: bytes, env: Envelope) -> None:
        reply = await self._answer(env)
        try:
            await self._send(identity, reply)
        except Exception as exc:  # peer gone, encoding problem: log and keep serving
            log.warning("could not reply to %r: %s", identity, exc)

    def _error(self, env: Envelope, code: str, message: str) -> Envelope:
        return env.reply(MsgType.ERROR, {"code": code, "message": message, "details": {}}, src=self.name)

    async def _answer(self, env: Envelope) -> Envelope:
        if env.type == MsgType.HELLO:
            return env.reply(
                MsgType.WELCOME,
                {"cloud": self.name, "policy": self.policy.metadata(), "cloud_time_ns": time.time_ns()},
                src=self.name,
            )
        if env.type == MsgType.HEARTBEAT:
            return env.reply(MsgType.HEARTBEAT, dict(env.body), src=self.name)
        if env.type != MsgType.OBSERVATION:
            return self._error(
                env,
                "unsupported",
                f"the policy server answers hello, heartbeat and observation messages, not {env.type.value}",
            )
        obs = env.body.get("observation")
        if not isinstance(obs, dict):
            return self._error(env, "bad_body", "an observation message needs a map 'observation'")
        try:
            prepared = await asyncio.get_running_loop().run_in_executor(None, self.policy.prepare, obs)
        except ObservationError as exc:
            return self._error(env, exc.code, str(exc))
        t0 = time.perf_counter()
        try:
            result = await self.worker.submit(prepared)
        except Exception as exc:
            return self._error(env, getattr(exc, "code", "inference_failed"), f"{type(exc).__name__}: {exc}")
        result["server_timing"] = {"infer_ms": (time.perf_counter() - t0) * 1e3}
        return env.reply(MsgType.ACTION, result, src=self.name)
