"""The edge end of the data plane: a ZeroMQ DEALER whose identity is the robot id."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
from pydantic import ValidationError

from roboos.channel.base import ChannelCore, configure_socket, error_body, maybe_await, now, remote_error
from roboos.channel.errors import CallTimeout, ChannelError, RemoteError
from roboos.channel.security import ChannelSecurity
from roboos.channel.transport import SocketPump
from roboos.protocol import DEFAULT_LIMITS, Envelope, Limits, MsgType, ProtocolError, encode, new_id
from roboos.protocol.messages import HelloBody, WelcomeBody

log = logging.getLogger("roboos.channel")

_Reply = tuple[MsgType, dict[str, Any]]


class EdgeChannel(ChannelCore):
    """Connects to the cloud, registers, heartbeats, serves idempotent calls and re-registers.

    Handlers (attributes, async or sync): ``on_call(env) -> dict`` (a ResultBody dict; the channel
    answers RESULT, and a repeated envelope id gets the stored reply or awaits the running call),
    ``on_message(env) -> dict | None`` (CANCEL and anything else; a returned dict is sent back as a
    RESULT reply), ``on_link_change(up: bool)`` (the cloud link went up / down).
    """

    def __init__(self, connect: str, robot_id: str, hello: HelloBody, *, limits: Limits = DEFAULT_LIMITS,
                 heartbeat_interval_s: float = 0.5, cloud_timeout_s: float = 2.0,
                 security: ChannelSecurity | None = None, result_cache: int = 1024,
                 call_types: frozenset[MsgType] = frozenset({MsgType.CALL})) -> None:
        super().__init__(robot_id, limits)
        if hello.robot != robot_id:
            raise ValueError(f"hello.robot {hello.robot!r} differs from robot_id {robot_id!r}")
        self.connect_to = connect
        self.robot_id = robot_id
        self.hello = hello if hello.session else hello.model_copy(update={"session": new_id()})
        self.heartbeat_interval_s = heartbeat_interval_s
        self.cloud_timeout_s = cloud_timeout_s
        self.security = security
        self.result_cache = max(1, result_cache)
        self.call_types = call_types
        self.on_call: Callable[[Envelope], Awaitable[dict[str, Any]]] | None = None
        self.on_message: Callable[[Envelope], Awaitable[dict[str, Any] | None]] | None = None
        self.on_link_change: Callable[[bool], Awaitable[None]] | None = None
        self.connected = False
        self.welcome: WelcomeBody | None = None
        self.last_heard = 0.0  # time.monotonic() of the last message from the cloud
        self._calls: OrderedDict[str, asyncio.Future[_Reply]] = OrderedDict()
        self._running_calls = 0  # calls whose handler has not returned yet (the heartbeat's ``busy``)
        self._sock: zmq.Socket | None = None
        self._pump: SocketPump | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._up_waiters: list[asyncio.Future[None]] = []
        self._hb_seq = 0
        self._echo: tuple[int, int] | None = None  # (cloud's sent_ns, our receive time)
        self._hello_frames: list[Any] | None = None
        self._socket_since = 0.0
        self.reopen_after_s = max(3.0, 3 * cloud_timeout_s)  # unregistered this long: new socket
        self._hello_id = ""
        self._last_hello = 0.0
        self.refusal: RemoteError | None = None  # the cloud's last answer refusing our HELLO

    # ------------------------------------------------------------------------------ life cycle
    async def start(self, wait_welcome: float | None = 10.0) -> WelcomeBody | None:
        """Connect and register. Waits up to ``wait_welcome`` seconds for WELCOME (``None``: don't wait).

        On timeout :class:`CallTimeout` is raised, and :class:`RemoteError` (code ``rejected``, ...) when
        the cloud refuses the HELLO; either way the channel keeps trying in the background (call
        :meth:`close` to stop it, or :meth:`wait_connected` to keep waiting).
        """
        self._loop = asyncio.get_running_loop()
        self._open_socket()
        self._send_hello()
        self._ticker = self._loop.create_task(self._tick())
        if wait_welcome is None:
            return None
        await self.wait_connected(wait_welcome)
        return self.welcome

    def _open_socket(self) -> None:
        assert self._loop is not None
        sock = zmq.Context.instance().socket(zmq.DEALER)
        configure_socket(sock, self.limits)
        sock.setsockopt(zmq.IDENTITY, self.robot_id.encode())
        sock.setsockopt(zmq.IMMEDIATE, 1)  # never queue for a dead link: stale messages are dropped
        sock.setsockopt(zmq.RECONNECT_IVL, 50)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        if self.security is not None:
            self.security.apply_client(sock)
        sock.connect(self.connect_to)
        self._sock = sock
        self._pump = SocketPump(sock, self._on_frames, name=self.robot_id, copied_parts=1)
        self._pump.start(self._loop)
        self._socket_since = now()

    def _reopen_socket(self) -> None:
        """Replace the DEALER: ZeroMQ stops reconnecting after some handshake failures (e.g. a CURVE
        key that was refused and has since been allowed)."""
        if self._pump is not None:
            self._pump.stop()
        if self._sock is not None:
            self._sock.close(0)
        self.stats.reconnects += 1
        self._open_socket()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the cloud has welcomed this robot."""
        if self.connected:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._up_waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise CallTimeout(f"no WELCOME from {self.connect_to} within {timeout:g} s") from None
        finally:
            if fut in self._up_waiters:
                self._up_waiters.remove(fut)

    async def close(self) -> None:
        """Send BYE, stop handlers and close the socket."""
        if self._sock is None:
            return
        if self.connected:
            self._send(Envelope(MsgType.BYE, {"reason": "edge shutting down"}, src=self.robot_id))
        if self._ticker:
            self._ticker.cancel()
        await self._cancel_handlers()
        assert self._pump is not None
        self._pump.stop()
        self._sock.close(linger=100)
        self._sock = None
        await self._set_link(False)

    async def __aenter__(self) -> EdgeChannel:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------- public API
    async def send(self, type: MsgType, body: dict[str, Any]) -> None:
        """Fire-and-forget a message to the cloud (dropped, and counted, while the link is down)."""
        if not self.connected:
            self.stats.send_failed += 1
            return
        self._send(Envelope(type, body, new_id(), None, self.robot_id, ""))

    async def request(self, type: MsgType, body: dict[str, Any], timeout: float = 5.0) -> Envelope:
        """Send a request (CALL, OBSERVATION, ...) to the cloud and await the correlated reply.

        If the cloud answers ``not_registered`` (it restarted, or timed this robot out), the channel
        registers again and re-sends the request once, within the same ``timeout``.
        """
        if not self.connected:
            raise ChannelError(f"{self.robot_id}: the cloud link is down")
        mid = new_id()
        frames = encode(Envelope(type, body, mid, None, self.robot_id, ""))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for attempt in (1, 2):
            w = self._expect(mid, max(0.0, deadline - loop.time()), type)
            try:
                if not self._send_frames(frames):
                    raise ChannelError(f"{self.robot_id}: could not send {type.value} (link down or queue full)")
                return await w.future
            except RemoteError as exc:
                if exc.code != "not_registered" or attempt == 2:
                    raise
            finally:
                self._pending.pop(mid, None)
            # the cloud did not take it (it lost track of us): register again, then send it once more
            await self.wait_connected(max(0.0, deadline - loop.time()))
        raise AssertionError("unreachable")

    def ping(self) -> bool:
        """Ask the cloud for an immediate HEARTBEAT (refreshes :attr:`last_heard` within one round trip).

        The safety watchdog pings every few tens of milliseconds while a motion skill runs, so a dead
        cloud is noticed in well under the regular ``cloud_timeout_s``. ``False`` when it could not be sent.
        """
        if not self.connected:
            return False
        self._hb_seq += 1
        return self._send(Envelope(MsgType.HEARTBEAT, {"seq": self._hb_seq, "ping": True}, new_id(), None,
                                   self.robot_id, ""))

    # --------------------------------------------------------------------------------- internals
    def _send(self, env: Envelope) -> bool:
        return self._send_frames(encode(env))

    def _send_frames(self, frames: list[Any]) -> bool:
        if self._pump is None:
            return False
        ok = self._pump.send(frames)
        if ok:
            self.stats.sent += 1
        else:
            self.stats.send_failed += 1
        return ok

    def _send_hello(self, *, unless_recent: bool = False) -> None:
        t = now()
        if unless_recent and t - self._last_hello < min(0.05, self.heartbeat_interval_s):
            return  # a burst of not_registered errors must not become a burst of HELLOs
        self._last_hello = t
        if self._hello_frames is None:
            env = Envelope(MsgType.HELLO, self.hello.model_dump(), src=self.robot_id)
            self._hello_id = env.id
            self._hello_frames = encode(env)
        self._send_frames(self._hello_frames)

    def _on_frames(self, frames: list[Any]) -> bool:
        """Route one received message; true when it answered a pending request (see SocketPump)."""
        env = self._decode(frames, "cloud")
        if env is None:
            return False
        self.last_heard = now()
        mtype = env.type
        if mtype is MsgType.HEARTBEAT:
            sent = env.body.get("sent_ns")
            if isinstance(sent, int):
                self._echo = (sent, time.perf_counter_ns())
        elif mtype is MsgType.WELCOME:
            self._on_welcome(env)
        elif mtype is MsgType.ERROR and env.body.get("code") == "not_registered":
            # the cloud restarted or timed us out: register again; a request it refused is re-sent
            self.stats.errors_received += 1
            self._link_lost("the cloud does not know this robot")
            self._send_hello(unless_recent=True)
            if env.reply_to is not None:
                self._resolve(env)
        elif env.reply_to is not None and self._resolve(env):
            return True
        elif mtype is MsgType.ERROR:
            self.stats.errors_received += 1
            if env.reply_to == self._hello_id and env.reply_to:
                self.refusal = remote_error(env)  # rejected / bad HELLO: fail start(), keep retrying
                log.warning("%s: the cloud refused the registration: %s", self.robot_id, self.refusal)
                for fut in self._up_waiters:
                    if not fut.done():
                        fut.set_exception(self.refusal)
            else:
                log.warning("%s: ERROR from the cloud: %s", self.robot_id, env.body)
        elif mtype is MsgType.BYE:
            self._link_lost("cloud said bye: " + str(env.body.get("reason", "")))
        elif mtype in self.call_types:
            self._on_call(env)
        elif env.reply_to is not None:
            self.stats.dropped_unroutable += 1
        elif self.on_message is not None:
            self._spawn(self._deliver(env))
        return False

    def _on_bad_input(self, peer: str, exc: ProtocolError, frames: Any) -> None:
        self.stats.errors_sent += 1
        self._send(Envelope(MsgType.ERROR, error_body(exc.code, str(exc)), src=self.robot_id))

    def _on_welcome(self, env: Envelope) -> None:
        try:
            self.welcome = WelcomeBody.model_validate(env.body)
        except ValidationError as exc:
            log.warning("%s: invalid WELCOME ignored: %s", self.robot_id, exc)
            return
        if not self.connected:
            self.stats.registrations += 1
            self._spawn(self._set_link(True))
        self.connected = True
        for fut in self._up_waiters:
            if not fut.done():
                fut.set_result(None)

    def _link_lost(self, reason: str) -> None:
        if self.connected:
            self.connected = False
            self.stats.disconnects += 1
            log.warning("%s: cloud link down (%s)", self.robot_id, reason)
            self._spawn(self._set_link(False))

    async def _set_link(self, up: bool) -> None:
        self.connected = up
        await maybe_await(self.on_link_change, up)

    def _on_call(self, env: Envelope) -> None:
        running = self._calls.get(env.id)
        if running is not None:  # a retransmission: answer from the cache, never run twice
            self.stats.duplicate_calls += 1
            self._calls.move_to_end(env.id)
            if running.done():
                self._reply(env, running.result())
            else:
                running.add_done_callback(lambda f: self._reply(env, f.result()))
            return
        fut: asyncio.Future[_Reply] = self._loop.create_future()  # type: ignore[union-attr]
        self._calls[env.id] = fut
        if len(self._calls) > self.result_cache:
            self._calls.popitem(last=False)
        if not self._spawn(self._run_call(env, fut)):
            del self._calls[env.id]
            self._reply(env, (MsgType.ERROR, error_body("overloaded", "the edge is overloaded, retry")))

    async def _run_call(self, env: Envelope, fut: asyncio.Future[_Reply]) -> None:
        handler = self.on_call
        if handler is None:
            reply: _Reply = (MsgType.ERROR, error_body("unsupported", f"this edge takes no {env.type.value}"))
        else:
            self._running_calls += 1
            try:
                body = handler(env)
                if asyncio.iscoroutine(body) or isinstance(body, asyncio.Future):
                    body = await body
                reply = (MsgType.RESULT, body if isinstance(body, dict) else {"ok": True, "value": body})
            except asyncio.CancelledError:
                fut.set_result((MsgType.ERROR, error_body("cancelled", "the edge shut down during the call")))
                raise
            except Exception as exc:
                log.exception("%s: on_call failed", self.robot_id)
                reply = (MsgType.ERROR, error_body("handler_error", f"{type(exc).__name__}: {exc}"))
            finally:
                self._running_calls -= 1
        fut.set_result(reply)
        self._reply(env, reply)

    def _reply(self, env: Envelope, reply: _Reply) -> None:
        mtype, body = reply
        if mtype is MsgType.ERROR:
            self.stats.errors_sent += 1
        self._send(env.reply(mtype, body, src=self.robot_id))

    async def _deliver(self, env: Envelope) -> None:
        out = await maybe_await(self.on_message, env)
        if isinstance(out, dict):
            self._send(env.reply(MsgType.RESULT, out, src=self.robot_id))

    async def _tick(self) -> None:
        """Heartbeat (or re-register while the link is down) and watch for a silent cloud."""
        period = min(self.heartbeat_interval_s, self.cloud_timeout_s / 4)
        next_beat = 0.0
        while True:
            await asyncio.sleep(period)
            t = now()
            if self.connected and t - self.last_heard > self.cloud_timeout_s:
                if self._pump is not None:  # a late loop: what the cloud sent may be waiting unread
                    self._pump.drain_now(budgets=4)
                if self.connected and t - self.last_heard > self.cloud_timeout_s:  # the drain may have heard it
                    self._link_lost(f"nothing heard for {t - self.last_heard:.2f} s")
            if t < next_beat:
                continue
            next_beat = t + self.heartbeat_interval_s
            if not self.connected:
                silent = t - max(self._socket_since, self.last_heard)
                if silent > max(self.reopen_after_s, 3 * self.heartbeat_interval_s):
                    self._reopen_socket()
                self._send_hello()
                continue
            self._hb_seq += 1
            body: dict[str, Any] = {"seq": self._hb_seq, "busy": self._running_calls > 0}
            if self._echo is not None:
                sent, got = self._echo
                body["echo_ns"], body["held_ns"] = sent, time.perf_counter_ns() - got
                self._echo = None
            self._send(Envelope(MsgType.HEARTBEAT, body, src=self.robot_id))
