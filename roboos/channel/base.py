"""What the cloud and edge ends of the channel share: counters, reply correlation, bounded handlers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
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
    reconnects: int = 0  # sockets re-created after a long unanswered registration
    liveness_deferred: int = 0  # heartbeat-timeout checks postponed because unread input was still queued

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class ChannelCore:
    """Shared machinery; subclasses own the socket and the message routing."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits or DEFAULT_LIMITS
        self.stats = ChannelStats()
        self._pending: dict[str, Waiter] = {}
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._deadline_at = float("inf")
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
    def _expect(self, msg_id: str, timeout: float, kind: MsgType, robot_id: str = "",
                frames: list[Any] | None = None) -> Waiter:
        """Register a waiter for the reply to ``msg_id``, a ``kind`` request to ``robot_id`` (the cloud when
        empty); one shared deadline timer, not one per call."""
        assert self._loop is not None
        w = Waiter(self._loop.create_future(), self._loop.time() + timeout, kind, timeout, robot_id, frames)
        self._pending[msg_id] = w
        if w.deadline < self._deadline_at:
            self._arm_deadlines(w.deadline)
        return w

    def _arm_deadlines(self, at: float) -> None:
        assert self._loop is not None
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
        self._deadline_at = at
        self._deadline_timer = self._loop.call_at(at, self._expire_due)

    def _expire_due(self) -> None:
        assert self._loop is not None
        self._deadline_timer, self._deadline_at = None, float("inf")
        t = self._loop.time()
        nxt = float("inf")
        for w in list(self._pending.values()):
            if w.future.done():
                continue
            if w.deadline <= t:
                w.future.set_exception(CallTimeout(f"{w.what}: no reply within {w.timeout:g} s"))
            elif w.deadline < nxt:
                nxt = w.deadline
        if nxt < float("inf"):
            self._arm_deadlines(nxt)

    def _resolve(self, env: Envelope) -> bool:
        """Complete the waiter of ``env.reply_to``; ``True`` when ``env`` was a reply to a pending request."""
        w = self._pending.get(env.reply_to) if env.reply_to else None
        if w is None:
            return False
        fut = w.future
        if fut.done():
            self.stats.dropped_unroutable += 1  # a second reply (retransmission) to an answered request
        elif env.type is MsgType.ERROR:
            fut.set_exception(remote_error(env))
        else:
            fut.set_result(env)
        return True

    # ------------------------------------------------------------------------------------ handlers
    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> bool:
        """Run a handler coroutine *eagerly*: it runs now, up to its first real suspension.

        A handler that never suspends (the common case for STATE bookkeeping or a cached result)
        costs no task and no loop hop; one that does continues as a task. Refused, and closed, when
        too many handlers are already suspended.
        """
        if len(self._handlers) >= MAX_HANDLERS:
            coro.close()
            self.stats.dropped_overload += 1
            self._warn("overloaded: %d handlers running, message dropped", len(self._handlers))
            return False
        try:
            yielded = coro.send(None)
        except StopIteration:
            return True
        except Exception:
            self.stats.handler_errors += 1
            log.exception("%s: handler failed", self.name)
            return True
        assert self._loop is not None
        task = self._loop.create_task(_resume(coro, yielded))
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
        for w in self._pending.values():
            if not w.future.done():
                w.future.set_exception(ChannelError(f"channel {self.name!r} closed"))
        self._pending.clear()
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()


class Waiter:
    """A pending request: its reply future, deadline and (cloud side) what to re-send on re-registration."""

    __slots__ = ("future", "deadline", "kind", "timeout", "robot_id", "frames")

    def __init__(self, future: asyncio.Future[Envelope], deadline: float, kind: MsgType, timeout: float,
                 robot_id: str, frames: list[Any] | None) -> None:
        self.future, self.deadline, self.kind, self.timeout = future, deadline, kind, timeout
        self.robot_id, self.frames = robot_id, frames

    @property
    def what(self) -> str:
        """The request, for error messages (formatted only when one is raised)."""
        return f"{self.kind.value} to {self.robot_id!r}" if self.robot_id else f"{self.kind.value} to the cloud"


class _Resumer:
    """Awaitable continuing a coroutine that was started eagerly and suspended on ``yielded``."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro, self.yielded = coro, yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        value = self.yielded
        while True:
            try:
                sent = yield value
            except BaseException as exc:  # cancellation and errors go into the handler
                try:
                    value = self.coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = self.coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    return await _Resumer(coro, yielded)


def remote_error(env: Envelope) -> RemoteError:
    """The :class:`RemoteError` an ERROR message stands for."""
    body = env.body
    details = body.get("details")
    return RemoteError(str(body.get("code", "error")), str(body.get("message", "")),
                       details if isinstance(details, dict) else {})


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


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
