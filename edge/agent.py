"""The edge agent: one per robot. Registers the robot and its skills, runs calls, streams state.

Life cycle (:meth:`EdgeAgent.run`): connect the robot, open an :class:`~roboos.channel.EdgeChannel`
(HELLO with the robot's profile and a :class:`~roboos.skills.card.SkillCard` per skill; the channel
heartbeats, re-registers after a cloud restart and de-duplicates calls by id), then serve CALLs through
the robot's :class:`~roboos.skills.SkillRegistry` and send STATE at ``state_rate_hz`` until
:meth:`stop`; robots with cameras also stream OBSERVATION frames at ``camera_stream_hz``
(:mod:`roboos.edge.camera_stream`; 0, the default here, turns it off), by default only while the cloud
asks for them (a ``camera_demand`` EVENT). Every call gets its own :class:`~roboos.skills.SkillContext`,
so a CANCEL for its id sets that call's cancel event. A bad call body, an unknown skill, bad arguments, a skill exception or a
timeout all come back as a failed :class:`~roboos.protocol.messages.ResultBody` — never a crash.

Hooks let other components attach without editing the agent (the safety watchdog and the limit checks
of ``roboos.edge.watchdog`` / ``roboos.edge.limits`` use them):

* ``agent.add_link_listener(fn)``: ``fn(up: bool)`` when the cloud link goes up or down.
* ``agent.add_call_guard(fn)``: ``fn(call: CallBody, spec: SkillSpec)`` before a skill runs; raising a
  :class:`~roboos.skills.SkillError` refuses the call with that error.
* ``agent.add_result_listener(fn)``: ``fn(call: CallBody, result: SkillResult)`` after each call.

Hooks may be plain functions or coroutine functions.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from roboos import __version__
from roboos.channel import EdgeChannel
from roboos.edge.camera_stream import CameraStream
from roboos.protocol import DEFAULT_LIMITS, Envelope, Limits, MsgType, new_id
from roboos.protocol.messages import CallBody, CancelBody, HelloBody, ObservationBody, ResultBody, StateBody
from roboos.robot import Robot, RobotState
from roboos.skills import SkillContext, SkillError, SkillRegistry, SkillResult, SkillSpec
from roboos.skills.card import SkillCard

log = logging.getLogger("roboos.edge")

LinkListener = Callable[[bool], Awaitable[None] | None]
CallGuard = Callable[[CallBody, SkillSpec], Awaitable[None] | None]
ResultListener = Callable[[CallBody, SkillResult], Awaitable[None] | None]


class BadCallError(SkillError):
    """A CALL whose body does not validate."""

    code = "bad_body"


@dataclass
class RunningCall:
    """A call being executed: its body, context (cancel event) and start time."""

    call_id: str
    body: CallBody
    context: SkillContext
    started: float


class EdgeAgent:
    """Drives one :class:`~roboos.robot.Robot` on behalf of the cloud."""

    def __init__(self, robot: Robot, cloud: str, *, state_rate_hz: float = 5.0,
                 heartbeat_interval_s: float = 0.5, cloud_timeout_s: float = 2.0, security: Any = None,
                 call_timeout_margin_s: float = 0.0, limits: Limits = DEFAULT_LIMITS,
                 registry: SkillRegistry | None = None, camera_stream_hz: float = 0.0,
                 camera_max_side: int = 320, camera_on_demand: bool = True) -> None:
        if state_rate_hz <= 0:
            raise ValueError(f"state_rate_hz must be positive, got {state_rate_hz}")
        self.robot = robot
        self.cloud = cloud
        self.state_rate_hz = state_rate_hz
        self.heartbeat_interval_s = heartbeat_interval_s
        self.cloud_timeout_s = cloud_timeout_s
        self.security = security
        self.call_timeout_margin_s = call_timeout_margin_s
        self.limits = limits
        self.registry = registry if registry is not None else SkillRegistry(robot.skills(), robot.embodiment)
        self.cameras = CameraStream(robot, rate_hz=camera_stream_hz, max_side=camera_max_side,
                                    on_demand=camera_on_demand)
        self.session = new_id()
        self.channel: EdgeChannel | None = None
        self.running: dict[str, RunningCall] = {}
        self.calls_done = 0
        self.calls_failed = 0
        self.states_sent = 0
        self._link_listeners: list[LinkListener] = []
        self._call_guards: list[CallGuard] = []
        self._result_listeners: list[ResultListener] = []
        self._stopping = asyncio.Event()
        self._state_kick = asyncio.Event()
        self._closed = False
        self._link_up = False

    # ---------------------------------------------------------------------------------------- hooks
    def add_link_listener(self, fn: LinkListener) -> None:
        """Call ``fn(up)`` whenever the cloud link goes up or down."""
        self._link_listeners.append(fn)

    def add_call_guard(self, fn: CallGuard) -> None:
        """Call ``fn(call, spec)`` before each skill runs; a raised SkillError refuses the call."""
        self._call_guards.append(fn)

    def add_result_listener(self, fn: ResultListener) -> None:
        """Call ``fn(call, result)`` after each call finished (ok or not)."""
        self._result_listeners.append(fn)

    # ------------------------------------------------------------------------------------ life cycle
    @property
    def name(self) -> str:
        return self.robot.name

    @property
    def connected(self) -> bool:
        return self.channel is not None and self.channel.connected

    def hello_body(self) -> HelloBody:
        """The registration message: robot profile and one skill card per skill."""
        profile = dict(self.robot.profile())
        profile.setdefault("state_rate_hz", self.state_rate_hz)
        return HelloBody(
            robot=self.robot.name,
            embodiment=self.robot.embodiment,
            profile=profile,
            skills=[SkillCard.from_spec(spec).model_dump(mode="json") for spec in self.registry],
            agent_version=__version__,
            session=self.session,
        )

    async def start(self, wait_welcome: float | None = None) -> None:
        """Connect the robot and open the channel (by default without waiting for the cloud)."""
        await asyncio.to_thread(self.robot.connect)
        channel = EdgeChannel(self.cloud, self.robot.name, self.hello_body(), limits=self.limits,
                              heartbeat_interval_s=self.heartbeat_interval_s,
                              cloud_timeout_s=self.cloud_timeout_s, security=self.security)
        channel.on_call = self._on_call
        channel.on_message = self._on_message
        channel.on_link_change = self._on_link_change
        self.channel = channel
        await channel.start(wait_welcome=wait_welcome)

    async def run(self) -> None:
        """Run until :meth:`stop`: serve calls and stream state; always leaves the robot stopped."""
        try:
            if self.channel is None:
                await self.start()
            cameras = asyncio.create_task(self.cameras.run(self.send_observation, lambda: self.connected,
                                                           self._stopping), name=f"cameras-{self.name}")
            try:
                await self._stream_state()
            finally:
                cameras.cancel()
                await asyncio.gather(cameras, return_exceptions=True)
        finally:
            await self.close()

    async def stop(self) -> None:
        """Ask :meth:`run` to finish (cancels running calls, sends BYE, disconnects the robot)."""
        self._stopping.set()

    async def cancel_all(self, reason: str = "cancelled") -> int:
        """Cancel every running call and stop the robot; returns how many calls were cancelled."""
        for call in list(self.running.values()):
            call.context.cancel_event.set()
        await asyncio.to_thread(self.robot.stop)
        if self.running:
            log.info("%s: cancelled %d call(s): %s", self.name, len(self.running), reason)
        return len(self.running)

    async def close(self) -> None:
        """Cancel running calls, stop the robot, say BYE and disconnect the robot (idempotent)."""
        self._stopping.set()
        if self._closed:
            return
        self._closed = True
        await self.cancel_all("edge agent shutting down")
        if self.channel is not None:
            try:
                await self.channel.close()
            except Exception:  # noqa: BLE001 - shutting down regardless
                log.exception("%s: closing the channel failed", self.name)
        await asyncio.to_thread(self.robot.disconnect)

    # --------------------------------------------------------------------------------- state stream
    def state(self) -> RobotState:
        return self.robot.get_state()

    async def _stream_state(self) -> None:
        period = 1.0 / self.state_rate_hz
        while not self._stopping.is_set():
            if self.connected:
                await self.send_state()
            self._state_kick.clear()
            waiters = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(self._state_kick.wait())]
            await asyncio.wait(waiters, timeout=period, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def send_state(self) -> None:
        """Send one STATE message now (errors are logged; the stream goes on)."""
        try:
            taken_ns = time.time_ns()  # before the snapshot: a result sent later supersedes it
            body = StateBody(state=self.state().model_dump(mode="json"), taken_ns=taken_ns)
            assert self.channel is not None
            await self.channel.send(MsgType.STATE, body.model_dump())
            self.states_sent += 1
        except Exception:  # noqa: BLE001 - a state glitch must not kill the agent
            log.exception("%s: could not send state", self.name)

    async def send_observation(self, body: ObservationBody) -> None:
        """Send one OBSERVATION (camera frames) now; fire and forget, dropped while the link is down."""
        assert self.channel is not None
        await self.channel.send(MsgType.OBSERVATION, body.model_dump())

    # ------------------------------------------------------------------------------------- handlers
    async def _on_call(self, env: Envelope) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            body = CallBody.model_validate(env.body)
        except ValidationError as exc:
            err = BadCallError(f"invalid call body: {exc.errors(include_url=False)[0]['msg']}",
                               errors=[{"loc": ".".join(map(str, e["loc"])), "problem": e["msg"]}
                                       for e in exc.errors(include_url=False)])
            self.calls_failed += 1
            return ResultBody(ok=False, error=err.to_dict()).model_dump()
        context = SkillContext(robot=self.robot, call_id=env.id)
        call = RunningCall(call_id=env.id, body=body, context=context, started=start)
        self.running[env.id] = call
        try:
            result = await self._execute(call)
        finally:
            self.running.pop(env.id, None)
        self.calls_done += 1
        if not result.ok:
            self.calls_failed += 1
            log.info("%s: %s failed: %s", self.name, body.skill, (result.error or {}).get("message"))
        for listener in self._result_listeners:
            try:
                await _maybe_await(listener, body, result)
            except Exception:  # noqa: BLE001
                log.exception("%s: result listener failed", self.name)
        self._state_kick.set()  # the cloud sees the new state right after the result
        return ResultBody(**result.model_dump()).model_dump()

    async def _execute(self, call: RunningCall) -> SkillResult:
        body = call.body
        try:
            spec = self.registry.get(body.skill)
            for guard in self._call_guards:
                await _maybe_await(guard, body, spec)
        except SkillError as err:
            return SkillResult.failure(err, time.perf_counter() - call.started)
        except Exception as exc:  # noqa: BLE001 - a faulty guard refuses the call, it does not crash
            log.exception("%s: call guard failed", self.name)
            err = SkillError(f"call guard failed: {type(exc).__name__}: {exc}")
            return SkillResult.failure(err, time.perf_counter() - call.started)
        timeout = body.timeout_s if body.timeout_s is not None else spec.timeout + self.call_timeout_margin_s
        return await spec.run(body.args, robot=self.robot, context=call.context, timeout=timeout)

    async def _on_message(self, env: Envelope) -> dict[str, Any] | None:
        if env.type is MsgType.CANCEL:
            try:
                body = CancelBody.model_validate(env.body)
            except ValidationError as exc:
                log.warning("%s: invalid CANCEL ignored: %s", self.name, exc)
                return None
            call = self.running.get(body.call_id)
            if call is not None:
                call.context.cancel_event.set()
                log.info("%s: cancelling %s (%s)", self.name, call.body.skill, body.reason or "no reason given")
            return {"ok": True, "value": {"call_id": body.call_id, "cancelled": call is not None}}
        if env.type is MsgType.EVENT and self.cameras.on_event(env.body):
            return None
        log.debug("%s: ignoring %s message", self.name, env.type.value)
        return None

    async def _on_link_change(self, up: bool) -> None:
        if up == self._link_up:
            return
        self._link_up = up
        log.info("%s: cloud link %s", self.name, "up" if up else "down")
        for listener in self._link_listeners:
            try:
                await _maybe_await(listener, up)
            except Exception:  # noqa: BLE001
                log.exception("%s: link listener failed", self.name)


async def _maybe_await(fn: Callable[..., Any], *args: Any) -> Any:
    out = fn(*args)
    if inspect.isawaitable(out):
        out = await out
    return out
