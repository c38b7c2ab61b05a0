"""Client of the native ZeroMQ policy endpoint (used by the edge action-chunk broker)."""

from __future__ import annotations

import asyncio
from typing import Any

from roboos.brain.policies.base import PolicyError

from roboos.protocol import DEFAULT_LIMITS, Envelope, Limits, MsgType, ProtocolError, decode, encode


class PolicyRemoteError(PolicyError):
    """The server answered an ``error`` message."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PolicyClient:
    """An asyncio DEALER connected to a policy server; requests may overlap (matched by ``reply_to``)."""

    def __init__(self, endpoint: str, *, name: str = "edge", limits: Limits = DEFAULT_LIMITS):
        self.endpoint, self.name, self.limits = endpoint, name, limits
        self._ctx: Any = None
        self._sock: Any = None
        self._waiters: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    async def connect(self) -> None:
        import zmq
        import zmq.asyncio

        self._ctx = zmq.asyncio.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(self.endpoint)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(PolicyError("client closed"))
        if self._sock is not None:
            self._sock.close(0)
            self._ctx.term()

    async def __aenter__(self) -> PolicyClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _read(self) -> None:
        while True:
            frames = await self._sock.recv_multipart(copy=False)
            try:
                env = decode(frames, self.limits)
            except ProtocolError:
                continue
            fut = self._waiters.pop(env.reply_to or "", None)
            if fut is not None and not fut.done():
                fut.set_result(env)

    async def request(self, type: MsgType, body: dict[str, Any], timeout: float = 30.0) -> Envelope:
        env = Envelope(type, body, src=self.name)
        fut = asyncio.get_running_loop().create_future()
        self._waiters[env.id] = fut
        await self._sock.send_multipart(encode(env), copy=False)
        try:
            reply = await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters.pop(env.id, None)
        if reply.type == MsgType.ERROR:
            raise PolicyRemoteError(str(reply.body.get("code", "error")), str(reply.body.get("message", "")))
        return reply

    async def metadata(self, timeout: float = 10.0) -> dict[str, Any]:
        reply = await self.request(MsgType.HELLO, {"robot": self.name, "embodiment": "client"}, timeout)
        return dict(reply.body.get("policy", {}))

    async def infer(self, observation: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Send one observation; return the action chunk result (``{"actions": array, ...}``)."""
        reply = await self.request(MsgType.OBSERVATION, {"observation": observation}, timeout)
        return dict(reply.body)
