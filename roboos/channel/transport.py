"""A non-blocking ZeroMQ socket driven directly by the asyncio loop (no per-message tasks or threads).

The socket's file descriptor is watched with ``loop.add_reader``; when it fires, queued messages are
received with ``NOBLOCK`` until ``Again`` (at most ``DRAIN_BUDGET`` per callback, then the drain yields to
the loop and continues) and handed synchronously to a callback. Sends are attempted at
once with ``NOBLOCK``; a full peer queue or an unreachable peer drops the message and reports it to the
caller (the high-water mark is the bound on memory). Because ZeroMQ's descriptor is edge-triggered, the
pump re-checks ``EVENTS`` after every send and schedules a drain when input is pending.

Frames are copied on send (on this class of machine a 150 KB memcpy is cheaper than pyzmq's zero-copy
tracking, which wakes its garbage-collector thread); only frames above ``ZERO_COPY_MIN`` go out
without copying. Array frames are always *received* without copying (numpy views of the zmq frame).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import zmq

log = logging.getLogger("roboos.channel")

DRAIN_BUDGET = 64  # messages handled per reader callback (a burst of 1,000 held the loop for ~40 ms)
ZERO_COPY_MIN = 4 << 20  # bytes; below this a memcpy beats pyzmq's zero-copy tracking (measured)
# Plain ints: zmq's IntFlag constants cost an enum construction per ``|`` / ``&`` on the hot path.
_NOBLOCK = int(zmq.NOBLOCK)
_NOBLOCK_MORE = int(zmq.NOBLOCK | zmq.SNDMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
# pyzmq's Cython socket methods, called directly: ``zmq.Socket.send`` wraps them in Python only to support
# ``routing_id``/``group`` (SERVER and RADIO sockets), and ``getsockopt`` adds an option-type lookup.
_send = zmq.backend.Socket.send
_get = zmq.backend.Socket.get


class SocketPump:
    """Drive ``sock`` from ``loop``: ``on_message(frames)`` is called for each received message.

    ``on_message`` returns true when the message completed a waiter (a reply): the drain then stops and
    continues in a later callback, so the woken coroutine runs first. Its next send skips the ``EVENTS``
    check (a drain is scheduled anyway), and the receive that finds the socket empty (a mailbox poll
    in libzmq) leaves the reply's critical path.
    """

    def __init__(self, sock: zmq.Socket, on_message: Callable[[list[Any]], bool | None], *, name: str,
                 copied_parts: int = 1) -> None:
        self.sock = sock
        self.copied_parts = copied_parts  # leading parts received as bytes (identity, envelope)
        self.on_message = on_message
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_scheduled = False
        self._draining = False
        self._fd = sock.getsockopt(zmq.FD)
        self.closed = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self._fd, self._drain)
        self._schedule_drain()

    def stop(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._loop is not None:
            try:
                self._loop.remove_reader(self._fd)
            except (ValueError, OSError, RuntimeError):  # loop already closed
                pass

    def send(self, frames: Sequence[Any]) -> bool:
        """Send one multipart message now; ``False`` when the peer's queue is full or it is unreachable."""
        if self.closed:
            return False
        sock = self.sock
        last = len(frames) - 1
        try:
            for i, frame in enumerate(frames):
                flags = _NOBLOCK_MORE if i < last else _NOBLOCK
                # copy passed explicitly: backends differ in its default
                _send(sock, frame, flags, not (type(frame) is memoryview and frame.nbytes >= ZERO_COPY_MIN))
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:  # ROUTER_MANDATORY: the robot is not connected
                return False
            raise
        finally:
            self._after_io()
        return True

    def pending(self) -> bool:
        """Whether received messages wait in the socket (the loop has not drained them yet)."""
        if self.closed:
            return False
        try:
            return bool(_get(self.sock, _EVENTS) & _POLLIN)
        except zmq.ZMQError:
            return False

    def drain_now(self, budgets: int = 1) -> None:
        """Handle up to ``budgets × DRAIN_BUDGET`` waiting messages right away (e.g. before judging liveness)."""
        for _ in range(budgets):
            if self.closed or self._draining or not self.pending():
                return
            self._drain()

    def _after_io(self) -> None:
        # The FD only signals edges: input that arrived while we were sending would go unnoticed.
        if not self._drain_scheduled and not self._draining and self._loop is not None and not self.closed:
            try:
                pending = _get(self.sock, _EVENTS) & _POLLIN
            except zmq.ZMQError:
                return
            if pending:
                self._schedule_drain()

    def _schedule_drain(self) -> None:
        if self._loop is not None and not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        self._draining = True
        try:
            self._drain_some()
        finally:
            self._draining = False

    def _drain_some(self) -> None:
        sock = self.sock
        copied = self.copied_parts
        budget = DRAIN_BUDGET  # then yield to the loop, so timers and other sockets are not starved
        while budget and not self.closed:
            try:  # receive until Again: one failed receive per drain instead of an EVENTS check per message
                # as zmq.Frame: its ``more`` is cheaper than a RCVMORE query; leading parts copied to bytes
                part = sock.recv(_NOBLOCK, False)
                frames: list[Any] = [part.bytes if copied else part]
                while part.more:
                    part = sock.recv(_NOBLOCK, False)
                    frames.append(part.bytes if len(frames) < copied else part)
            except zmq.Again:
                return
            except zmq.ZMQError as exc:
                if exc.errno in (zmq.ENOTSOCK, zmq.ETERM):
                    return
                log.warning("%s: receive failed: %s", self.name, exc)
                return
            budget -= 1
            try:
                woke = self.on_message(frames)
            except Exception:  # a handler bug must never stop the pump
                log.exception("%s: message handler failed", self.name)
                continue
            if woke:
                # a waiter is ready: it runs before the next receive, which usually finds nothing (a libzmq
                # mailbox poll, now off the reply's critical path)
                break
        if not self.closed:
            self._schedule_drain()
