"""The cloud end of the data plane: a ZeroMQ ROUTER that every edge agent's DEALER connects to."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import zmq
from pydantic import ValidationError

from roboos.channel.base import ChannelCore, configure_socket, error_body, maybe_await, now
from roboos.channel.errors import ChannelError, ChannelRejected, RobotOffline
from roboos.channel.security import ChannelSecurity, start_authenticator
from roboos.channel.transport import SocketPump
from roboos.protocol import DEFAULT_LIMITS, Envelope, Limits, MsgType, ProtocolError, encode, new_id
from roboos.protocol.messages import HelloBody, WelcomeBody

log = logging.getLogger("roboos.channel")

# Edge -> cloud message types answered through ``on_request`` (others go to ``on_message``).
REQUEST_TYPES = frozenset({MsgType.CALL, MsgType.OBSERVATION})
REPLY_TYPE = {MsgType.CALL: MsgType.RESULT, MsgType.OBSERVATION: MsgType.ACTION}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
TICK_SLICE = 64  # robots heartbeated per loop turn in a tick
BEAT_GROUPS = 10  # the fleet's heartbeats are spread over the interval in this many groups
CATCH_UP_BUDGETS = 16  # drain budgets (of transport.DRAIN_BUDGET messages) read before judging liveness


@dataclass
class RobotLink:
    """What the cloud knows about one robot's connection.

    ``last_seen`` is a :func:`time.monotonic` timestamp (use :attr:`age_s`); ``hello`` is the HELLO
    body the robot registered with (a dict, validated as :class:`HelloBody`).
    """

    robot_id: str
    connected: bool
    last_seen: float
    session: str
    hello: dict[str, Any]
    rtt_s: float | None = None
    registered_at: float = field(default_factory=time.time)
    registrations: int = 1
    beat_group: int = 0  # which of the cloud's heartbeat groups it is in (see CloudChannel._tick)

    @property
    def age_s(self) -> float:
        """Seconds since anything was heard from the robot."""
        return time.monotonic() - self.last_seen


class CloudChannel(ChannelCore):
    """Binds a ROUTER; registers robots (HELLO/WELCOME), tracks liveness, sends correlated calls.

    Handlers (attributes, async or sync): ``on_hello(env) -> dict | None`` (extra WELCOME fields; raise
    :class:`ChannelRejected` to refuse), ``on_message(env)`` (STATE, EVENT, ...), ``on_disconnect(robot_id,
    reason)``, ``on_request(env) -> dict | Envelope | None`` (edge -> cloud CALL / OBSERVATION requests,
    answered with RESULT / ACTION). All handlers run on the channel's event loop.
    """

    def __init__(self, bind: str = "tcp://127.0.0.1:7700", *, name: str = "cloud",
                 limits: Limits = DEFAULT_LIMITS, heartbeat_interval_s: float = 0.5,
                 heartbeat_timeout_s: float = 2.0, security: ChannelSecurity | None = None,
                 offline_grace_s: float = 1.0, allow_insecure: bool = False) -> None:
        super().__init__(name, limits)
        self.bind = bind
        self.endpoint = bind
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.offline_grace_s = offline_grace_s
        self.security = security
        self.allow_insecure = allow_insecure
        self.on_hello: Callable[[Envelope], Awaitable[dict[str, Any] | None]] | None = None
        self.on_message: Callable[[Envelope], Awaitable[None]] | None = None
        self.on_disconnect: Callable[[str, str], Awaitable[None]] | None = None
        self.on_request: Callable[[Envelope], Awaitable[dict[str, Any] | None]] | None = None
        self._links: dict[str, RobotLink] = {}
        self._identities: dict[str, bytes] = {}
        self._link_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._ctx: zmq.Context | None = None
        self._sock: zmq.Socket | None = None
        self._pump: SocketPump | None = None
        self._auth: Any = None
        self.allow_list: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self._hb_seq = 0

    # ------------------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        """Bind the socket and start heartbeating. Port 0 binds a random port (see :attr:`endpoint`)."""
        self._loop = asyncio.get_running_loop()
        if self.security is None and not is_loopback(self.bind) and not self.allow_insecure:
            raise ChannelError(f"refusing to bind {self.bind} without CURVE security: pass security= "
                               "(ChannelSecurity.for_cloud) or allow_insecure=True")
        self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.ROUTER)
        configure_socket(sock, self.limits)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sends to absent robots fail instead of vanishing
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting edge takes over its identity
        if self.security is not None:
            self._auth, self.allow_list = start_authenticator(self._ctx, self.security)
            self.security.apply_server(sock)
        try:
            sock.bind(_wildcard_port(self.bind))
        except zmq.ZMQError as exc:
            sock.close(0)
            self._stop_auth()
            self._ctx.term()
            raise ChannelError(f"cannot bind {self.bind}: {exc}") from exc
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._sock = sock
        self._pump = SocketPump(sock, self._on_frames, name=self.name, copied_parts=2)
        self._pump.start(self._loop)
        self._ticker = self._loop.create_task(self._tick())
        log.info("%s: listening on %s", self.name, self.endpoint)

    async def close(self) -> None:
        """Say BYE to connected robots, stop handlers and close the socket."""
        if self._sock is None:
            return
        for link in self._links.values():
            if link.connected:
                self._send(link.robot_id, Envelope(MsgType.BYE, {"reason": "cloud shutting down"},
                                                   src=self.name, dst=link.robot_id))
        if self._ticker:
            self._ticker.cancel()
        await self._cancel_handlers()
        assert self._pump is not None
        self._pump.stop()
        self._sock.close(linger=100)
        self._sock = None
        self._stop_auth()
        if self._ctx is not None:
            self._ctx.term()

    def _stop_auth(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None

    async def __aenter__(self) -> CloudChannel:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------- public API
    def links(self) -> dict[str, RobotLink]:
        """robot id -> :class:`RobotLink` of every robot that ever registered."""
        return dict(self._links)

    def connected(self, robot_id: str) -> bool:
        link = self._links.get(robot_id)
        return link is not None and link.connected

    async def call(self, robot_id: str, body: dict[str, Any], *, type: MsgType = MsgType.CALL,
                   timeout: float = 30.0, msg_id: str | None = None) -> Envelope:
        """Send a request to a robot and await its correlated reply.

        An ERROR reply raises :class:`RemoteError`; :class:`RobotOffline` when the robot is unknown, or
        offline and not back within ``offline_grace_s`` (also while the call is pending: BYE or heartbeat
        timeout, then the grace period); :class:`CallTimeout` after ``timeout``. While pending, the same
        message id is re-sent whenever the robot re-registers (the edge de-duplicates by id).
        """
        mid = msg_id or new_id()
        existing = self._pending.get(mid)
        if existing is not None:  # the same idempotency key twice: share the outcome
            return await asyncio.shield(existing.future)
        link = self._links.get(robot_id)
        if link is None or not link.connected:
            await self._wait_link(robot_id, min(timeout, self.offline_grace_s))
        frames = encode(Envelope(type, body, mid, None, self.name, robot_id))
        w = self._expect(mid, timeout, type, robot_id, frames)
        try:
            self._send_frames(robot_id, frames)  # if this fails, the re-registration re-sends it
            return await w.future
        finally:
            self._pending.pop(mid, None)

    async def send(self, robot_id: str, env: Envelope) -> None:
        """Fire-and-forget a message to a robot; :class:`RobotOffline` when it cannot be delivered."""
        if not env.src:
            env.src = self.name
        env.dst = robot_id
        if not self.connected(robot_id) or not self._send(robot_id, env):
            raise RobotOffline(f"robot {robot_id!r} is not connected")

    # --------------------------------------------------------------------------------- internals
    def _send(self, robot_id: str, env: Envelope) -> bool:
        return self._send_frames(robot_id, encode(env))

    def _send_frames(self, robot_id: str, frames: list[Any]) -> bool:
        if self._pump is None:
            return False
        ident = self._identities.get(robot_id)
        if ident is None:
            ident = robot_id.encode()
        ok = self._pump.send([ident, *frames])
        if ok:
            self.stats.sent += 1
        else:
            self.stats.send_failed += 1
        return ok

    async def _wait_link(self, robot_id: str, grace: float) -> None:
        if robot_id not in self._links or grace <= 0:
            raise RobotOffline(f"robot {robot_id!r} is not connected")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._link_waiters.setdefault(robot_id, []).append(fut)
        try:
            await asyncio.wait_for(fut, grace)
        except asyncio.TimeoutError:
            raise RobotOffline(f"robot {robot_id!r} is offline (not back within {grace:g} s)") from None
        finally:
            waiters = self._link_waiters.get(robot_id, [])
            if fut in waiters:
                waiters.remove(fut)

    def _on_frames(self, frames: list[Any]) -> bool:
        """Route one received message; true when it answered a pending request (see SocketPump)."""
        ident = frames[0]
        try:
            robot_id = ident.decode()
        except UnicodeDecodeError:
            self.stats.dropped_malformed += 1
            return False
        env = self._decode(frames[1:], robot_id)
        if env is None:
            return False
        env.src = robot_id  # the socket identity is authoritative, not what the sender wrote
        mtype = env.type
        if mtype is MsgType.HELLO:
            self._identities[robot_id] = ident
            self._spawn(self._register(env))
            return False
        link = self._links.get(robot_id)
        if link is None or not link.connected:
            if mtype is not MsgType.BYE and mtype is not MsgType.ERROR:
                self._reply_error(robot_id, env.id, "not_registered",
                                  "send HELLO first: this cloud does not know you (restarted?)")
            return False
        link.last_seen = now()
        if mtype is MsgType.HEARTBEAT:
            self._on_heartbeat(link, env)
        elif env.reply_to is not None and self._resolve(env):
            return True
        elif mtype is MsgType.BYE:
            self._mark_offline(link, "bye: " + str(env.body.get("reason", "")))
        elif mtype in REQUEST_TYPES and self.on_request is not None:
            if not self._spawn(self._answer(env)):
                self._reply_error(robot_id, env.id, "overloaded", "the cloud is overloaded, retry")
        elif env.reply_to is not None or mtype is MsgType.ERROR:
            if mtype is MsgType.ERROR:
                self.stats.errors_received += 1
                log.warning("%s: ERROR from %s: %s", self.name, robot_id, env.body)
            else:
                self.stats.dropped_unroutable += 1  # a late reply to a call that already ended
        elif self.on_message is not None:
            self._spawn(maybe_await(self.on_message, env))
        return False

    def _on_bad_input(self, peer: str, exc: ProtocolError, frames: Any) -> None:
        self._reply_error(peer, None, exc.code, str(exc))

    def _reply_error(self, robot_id: str, reply_to: str | None, code: str, message: str) -> None:
        self.stats.errors_sent += 1
        env = Envelope(MsgType.ERROR, error_body(code, message), reply_to=reply_to, src=self.name,
                       dst=robot_id)
        self._send(robot_id, env)

    def _on_heartbeat(self, link: RobotLink, env: Envelope) -> None:
        if env.body.get("ping"):  # the edge's watchdog asks for proof of life right now
            self._send(link.robot_id, Envelope(MsgType.HEARTBEAT, {"seq": self._hb_seq, "pong": True},
                                               new_id(), env.id, self.name, link.robot_id))
        echo = env.body.get("echo_ns")
        held = env.body.get("held_ns", 0)
        if isinstance(echo, int) and isinstance(held, int) and echo > 0:
            rtt = (time.perf_counter_ns() - echo - held) / 1e9
            if 0 <= rtt < 60:
                link.rtt_s = rtt

    async def _register(self, env: Envelope) -> None:
        robot_id = env.src
        try:
            hello = HelloBody.model_validate(env.body)
        except ValidationError as exc:
            self._reply_error(robot_id, env.id, "bad_body", f"invalid HELLO: {exc.errors()[:3]}")
            return
        if hello.robot != robot_id:
            self._reply_error(robot_id, env.id, "bad_hello",
                              f"HELLO names robot {hello.robot!r} but the connection is {robot_id!r}")
            return
        try:
            extra = await maybe_await(self.on_hello, env) or {}
        except ChannelRejected as exc:
            self._reply_error(robot_id, env.id, "rejected", str(exc) or "refused by the cloud")
            return
        except Exception as exc:  # a handler bug refuses this robot, the cloud keeps serving
            log.exception("%s: on_hello failed for %s", self.name, robot_id)
            self._reply_error(robot_id, env.id, "internal", f"registration failed: {exc}")
            return
        old = self._links.get(robot_id)
        link = RobotLink(robot_id=robot_id, connected=True, last_seen=now(), session=hello.session,
                         hello=env.body, registrations=(old.registrations + 1) if old else 1,
                         beat_group=old.beat_group if old else len(self._links) % BEAT_GROUPS)
        if old is not None:
            link.rtt_s = old.rtt_s
        self._links[robot_id] = link
        self.stats.registrations += 1
        welcome = WelcomeBody(cloud=self.name, heartbeat_interval_s=self.heartbeat_interval_s,
                              heartbeat_timeout_s=self.heartbeat_timeout_s, cloud_time_ns=time.time_ns())
        self._send(robot_id, env.reply(MsgType.WELCOME, {**welcome.model_dump(), **dict(extra)},
                                       src=self.name))
        for fut in self._link_waiters.pop(robot_id, []):
            if not fut.done():
                fut.set_result(None)
        for w in list(self._pending.values()):  # re-send pending calls with the same ids
            if w.robot_id == robot_id and w.frames is not None and not w.future.done():
                self._send_frames(robot_id, w.frames)
        log.info("%s: robot %s registered (session %s)", self.name, robot_id, hello.session or "-")

    async def _answer(self, env: Envelope) -> None:
        try:
            out = await maybe_await(self.on_request, env)
        except Exception as exc:
            log.exception("%s: on_request failed for %s", self.name, env.type.value)
            self._reply_error(env.src, env.id, "internal", f"{type(exc).__name__}: {exc}")
            return
        if isinstance(out, Envelope):
            out.reply_to, out.src, out.dst = env.id, self.name, env.src
            self._send(env.src, out)
        else:
            self._send(env.src, env.reply(REPLY_TYPE.get(env.type, MsgType.RESULT), out or {},
                                          src=self.name))

    def _mark_offline(self, link: RobotLink, reason: str) -> None:
        if not link.connected:
            return
        link.connected = False
        self.stats.disconnects += 1
        log.info("%s: robot %s offline (%s)", self.name, link.robot_id, reason)
        assert self._loop is not None
        self._loop.call_later(self.offline_grace_s, self._fail_calls_if_offline, link.robot_id, reason)
        if self.on_disconnect is not None:
            self._spawn(maybe_await(self.on_disconnect, link.robot_id, reason))

    def _fail_calls_if_offline(self, robot_id: str, reason: str) -> None:
        """Pending calls to a robot that did not come back within the grace period fail now."""
        if self.connected(robot_id):
            return
        for w in self._pending.values():
            if w.robot_id == robot_id and not w.future.done():
                w.future.set_exception(RobotOffline(f"robot {robot_id!r} went offline ({reason})"))

    async def _tick(self) -> None:
        """Heartbeat every connected robot once per interval and mark silent ones offline.

        The fleet is split into :data:`BEAT_GROUPS` groups (robot ``i`` in order of registration into group
        ``i % BEAT_GROUPS``) beaten one after the other, evenly over the interval: a fleet's heartbeats
        leave as a trickle, not as one burst that queues every CALL behind it in ZeroMQ's I/O thread and in
        the edges (500 robots at once delayed calls sent right after by 5-20 ms). Each group gets one
        HEARTBEAT envelope, encoded once (``dst`` empty), sent :data:`TICK_SLICE` robots per loop turn.
        """
        step = self.heartbeat_interval_s / BEAT_GROUPS
        group = 0
        while True:
            await asyncio.sleep(step)
            if group == 0:
                self._hb_seq += 1
            judge = await self._caught_up()
            t = now()
            beat = encode(Envelope(MsgType.HEARTBEAT, {"seq": self._hb_seq, "sent_ns": time.perf_counter_ns()},
                                   src=self.name))
            links = [link for link in self._links.values() if link.connected and link.beat_group == group]
            group = (group + 1) % BEAT_GROUPS
            for start in range(0, len(links), TICK_SLICE):
                if start:
                    await asyncio.sleep(0)
                for link in links[start:start + TICK_SLICE]:
                    if not link.connected:  # went offline while the tick yielded
                        continue
                    if judge and t - link.last_seen > self.heartbeat_timeout_s:
                        self._mark_offline(link, "heartbeat timeout")
                        continue
                    self._send_frames(link.robot_id, beat)

    async def _caught_up(self) -> bool:
        """Read what waits in the socket before calling anyone silent; ``False`` while a backlog remains.

        A cloud that fell behind (CPU starved, a long handler) has the robots' heartbeats queued unread:
        judging ``last_seen`` then would mark the whole fleet offline at once. The backlog is drained first
        (bounded, one drain budget per loop turn); if input still waits, offline marking waits for the next
        tick (counted).
        """
        pump = self._pump
        for _ in range(CATCH_UP_BUDGETS):
            if pump is None or not pump.pending():
                return True
            pump.drain_now(budgets=1)
            await asyncio.sleep(0)
        if pump is not None and pump.pending():
            self.stats.liveness_deferred += 1
            return False
        return True


def is_loopback(endpoint: str) -> bool:
    """Whether a ZeroMQ endpoint stays on this machine (loopback TCP, ipc, inproc)."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0]
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _wildcard_port(endpoint: str) -> str:
    return endpoint[:-2] + ":*" if endpoint.startswith("tcp://") and endpoint.endswith(":0") else endpoint
