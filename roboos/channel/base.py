"""What the cloud and edge ends of the channel share: counters, reply correlation, bounded handlers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import zmq

from roboos.channel.errors import CallTimeout, ChannelError, RemoteError
from roboos.protocol import DEFAULT_LIMITS, Envelope, Limits, MsgType, ProtocolError, decode, encode
from roboos.protocol.envelope import MessageTooLarge, VersionMismatch

log = logging.getLogger("roboos.channel")

MAX_HANDLERS = 4096  # concurrently running message handlers per channel end
QUEUE_MESSAGES = 1000  # ZeroMQ high-water mark per peer, both directions


@dataclass
class ChannelStats:
    """Counters of one channel end (all drops are counted, none is silent)."""

    sent: int = 0
    received: int = 0
    send_failed: int = 0  # peer unreachable or its queue full
    dropped_malformed: int = 0
    dropped_version: int = 0
    dropped_too_large: int = 0
    dropped_overload: int = 0  # too many handlers running
    dropped_unroutable: int = 0  # e.g. a reply nobody waits for any more
    errors_sent: int = 0
    errors_received: int = 0
    duplicate_calls: int = 0
    handler_errors: int = 0
    registrations: int = 0
    disconnects: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class ChannelCore:
    """Shared machinery; subclasses own the socket and the message routing."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits or DEFAULT_LIMITS
        self.stats = ChannelStats()
        self._pending: dict[str, asyncio.Future[Envelope]] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._log_budget = 50  # warnings about dropped input; then every 1000th

    # ----------------------------------------------------------------------------------- decoding
    def _decode(self, frames: Sequence[Any], peer: str) -> Envelope | None:
        """Decode or count and log the drop; returns ``None`` when dropped (caller may reply ERROR)."""
        try:
            env = decode(frames, self.limits)
        except VersionMismatch as exc:
            self.stats.dropped_version += 1
            self._warn("version mismatch from %r: %s", peer, exc)
            self._on_bad_input(peer, exc, frames)
            return None
        except MessageTooLarge as exc:
            self.stats.dropped_too_large += 1
            self._warn("oversized message from %r: %s", peer, exc)
            self._on_bad_input(peer, exc, frames)
            return None
        except ProtocolError as exc:
            self.stats.dropped_malformed += 1
            self._warn("malformed message from %r: %s", peer, exc)
            self._on_bad_input(peer, exc, frames)
            return None
        self.stats.received += 1
        return env

    def _on_bad_input(self, peer: str, exc: ProtocolError, frames: Sequence[Any]) -> None:
        """Hook: answer an undecodable message (default: drop only)."""

    def _warn(self, msg: str, *args: Any) -> None:
        total = (self.stats.dropped_version + self.stats.dropped_malformed + self.stats.dropped_too_large
                 + self.stats.dropped_overload)
        if self._log_budget > 0 or total % 1000 == 0:
            self._log_budget -= 1
            log.warning("%s: " + msg, self.name, *args)

    # --------------------------------------------------------------------------------- correlation
    def _resolve(self, env: Envelope) -> bool:
        """Complete the waiter of ``env.reply_to``; ``True`` when ``env`` was a reply to a pending request."""
        fut = self._pending.get(env.reply_to) if env.reply_to else None
        if fut is None:
            return False
        if not fut.done():
            if env.type is MsgType.ERROR:
                fut.set_exception(remote_error(env))
            else:
                fut.set_result(env)
        return True

    async def _wait_reply(self, msg_id: str, fut: asyncio.Future[Envelope], timeout: float,
                          what: str) -> Envelope:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout, _expire, fut, what, timeout)
        try:
            return await fut
        finally:
            timer.cancel()
            if self._pending.get(msg_id) is fut:
                del self._pending[msg_id]

    # ------------------------------------------------------------------------------------ handlers
    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> bool:
        """Run a handler coroutine as a task; refuses (closing it) when too many are running."""
        if len(self._handlers) >= MAX_HANDLERS:
            coro.close()
            self.stats.dropped_overload += 1
            self._warn("overloaded: %d handlers running, message dropped", len(self._handlers))
            return False
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._handlers.add(task)
        task.add_done_callback(self._handler_done)
        return True

    def _handler_done(self, task: asyncio.Task[Any]) -> None:
        self._handlers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.handler_errors += 1
            log.error("%s: handler failed", self.name, exc_info=task.exception())

    async def _cancel_handlers(self) -> None:
        tasks = [t for t in self._handlers if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ChannelError(f"channel {self.name!r} closed"))
        self._pending.clear()


def remote_error(env: Envelope) -> RemoteError:
    """The :class:`RemoteError` an ERROR message stands for."""
    body = env.body
    details = body.get("details")
    return RemoteError(str(body.get("code", "error")), str(body.get("message", "")),
                       details if isinstance(details, dict) else {})


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


def _expire(fut: asyncio.Future[Any], what: str, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(CallTimeout(f"{what}: no reply within {timeout:g} s"))


async def maybe_await(handler: Callable[..., Awaitable[Any] | Any] | None, *args: Any) -> Any:
    """Call an async or sync handler."""
    if handler is None:
        return None
    out = handler(*args)
    if asyncio.iscoroutine(out) or isinstance(out, asyncio.Future):
        out = await out
    return out


def configure_socket(sock: zmq.Socket, limits: Limits) -> None:
    """Options shared by both ends: bounded queues and frame sizes, no lingering on close."""
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, QUEUE_MESSAGES)
    sock.setsockopt(zmq.RCVHWM, QUEUE_MESSAGES)
    # ZeroMQ disconnects a peer sending a larger frame before it is buffered in full.
    sock.setsockopt(zmq.MAXMSGSIZE, max(limits.max_frame_bytes, limits.max_envelope_bytes))


def now() -> float:
    return time.monotonic()


__all__ = ["ChannelCore", "ChannelStats", "configure_socket", "encode", "error_body", "maybe_await",
           "remote_error"]
