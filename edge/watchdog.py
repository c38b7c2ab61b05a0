"""Edge safety watchdog: stop the robot when the cloud falls silent.

While a *motion* skill runs (a skill tagged ``motion``, ``navigation``, ``manipulation`` or ``vla``),
the watchdog pings the cloud every ``ping_interval_s`` (:meth:`EdgeChannel.ping` gets an immediate
HEARTBEAT back) and checks every ``check_interval_s`` how long the channel has heard nothing. After
``motion_timeout_s`` (default 200 ms) of silence it calls ``Robot.stop()`` at once, cancels the running
calls, and remembers a ``watchdog_stop`` event. Outside motion the channel's own ``cloud_timeout_s``
applies: when the link goes down the robot is stopped too. The event is sent to the cloud (EVENT
``watchdog_stop``) as soon as the link is back.

Attach with :func:`attach_watchdog` (uses the agent's ``add_link_listener`` hook only).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from roboos.protocol import MsgType

if TYPE_CHECKING:
    from roboos.edge.agent import EdgeAgent

log = logging.getLogger("roboos.edge.watchdog")

MOTION_TAGS = ("motion", "navigation", "manipulation", "vla")


class WatchdogConfig(BaseModel):
    """Settings of the safety watchdog (``watchdog:`` in the edge config)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    motion_timeout_s: float = Field(default=0.2, gt=0, le=10)  # silence allowed while a motion skill runs
    ping_interval_s: float = Field(default=0.05, gt=0, le=5)  # proof-of-life requests during motion
    check_interval_s: float = Field(default=0.01, gt=0, le=1)
    motion_tags: list[str] = Field(default_factory=lambda: list(MOTION_TAGS))
    stop_on_link_down: bool = True  # also stop when the link drops while idle (after cloud_timeout_s)


@dataclass
class WatchdogTrip:
    """One stop the watchdog made."""

    reason: str
    silence_s: float
    skills: list[str]
    at: float = field(default_factory=time.time)
    stop_latency_s: float = 0.0  # from the moment the limit was crossed to Robot.stop() returning
    reported: bool = False

    def event_body(self) -> dict[str, Any]:
        return {"kind": "watchdog_stop", "data": {
            "reason": self.reason, "silence_s": round(self.silence_s, 4), "skills": self.skills,
            "at": self.at, "stop_latency_s": round(self.stop_latency_s, 6)}}


class SafetyWatchdog:
    """Watches one agent's cloud link; see the module docstring."""

    def __init__(self, agent: EdgeAgent, config: WatchdogConfig | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.agent = agent
        self.config = config or WatchdogConfig()
        self.clock = clock
        self.trips: list[WatchdogTrip] = []
        self._task: asyncio.Task[None] | None = None
        self._tripped = False  # one stop per outage
        self._last_ping = 0.0

    # ------------------------------------------------------------------------------ life cycle
    def attach(self) -> SafetyWatchdog:
        self.agent.add_link_listener(self._on_link)
        return self

    def start(self) -> None:
        """Start the monitor task (on the running loop); :func:`attach_watchdog` arranges this lazily."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._monitor())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    # ---------------------------------------------------------------------------------- checks
    def motion_skills(self) -> list[str]:
        """Names of running calls whose skill is a motion skill."""
        out = []
        wanted = set(self.config.motion_tags)
        for call in list(self.agent.running.values()):
            try:
                spec = self.agent.registry.get(call.body.skill)
            except Exception:  # noqa: BLE001 - an unknown skill is not moving anything
                continue
            if wanted.intersection(spec.tags):
                out.append(call.body.skill)
        return out

    async def _monitor(self) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.check_interval_s)
            channel = self.agent.channel
            if channel is None or not cfg.enabled:
                continue
            now = self.clock()
            moving = self.motion_skills()
            if not moving:
                if self._tripped and channel.connected and now - channel.last_heard < cfg.motion_timeout_s:
                    await self._link_back()
                continue
            if channel.connected and now - self._last_ping >= cfg.ping_interval_s:
                self._last_ping = now
                channel.ping()
            silence = now - channel.last_heard
            if silence > cfg.motion_timeout_s and not self._tripped:
                crossed = channel.last_heard + cfg.motion_timeout_s
                self.trip(f"no word from the cloud for {silence * 1000:.0f} ms during motion", silence, moving,
                          crossed_at=crossed)
            elif self._tripped and silence < cfg.motion_timeout_s and channel.connected:
                await self._link_back()

    def trip(self, reason: str, silence_s: float, skills: list[str], crossed_at: float | None = None) -> WatchdogTrip:
        """Stop the robot now and cancel the running calls."""
        self._tripped = True
        try:
            self.agent.robot.stop()
        except Exception:  # noqa: BLE001 - stopping must be attempted, failures reported
            log.exception("%s: Robot.stop() failed", self.agent.name)
        for call in list(self.agent.running.values()):
            call.context.cancel_event.set()
        done = self.clock()
        trip = WatchdogTrip(reason=reason, silence_s=silence_s, skills=skills,
                            stop_latency_s=max(0.0, done - crossed_at) if crossed_at is not None else 0.0)
        self.trips.append(trip)
        log.warning("%s: WATCHDOG STOP (%s); stopped %d call(s)", self.agent.name, reason, len(skills))
        return trip

    async def _on_link(self, up: bool) -> None:
        self.start()  # the monitor starts with the first link change (always on the agent's loop)
        if up:
            await self._link_back()
            return
        stopping = getattr(self.agent, "_stopping", None)
        if stopping is not None and stopping.is_set():
            return  # the agent is shutting down (it stops the robot itself); not a lost cloud
        if not self._tripped and self.config.enabled and self.config.stop_on_link_down:
            channel = self.agent.channel
            silence = self.clock() - channel.last_heard if channel is not None else 0.0
            self.trip("cloud link down", silence, self.motion_skills() or [c.body.skill for c in
                                                                           self.agent.running.values()])

    async def _link_back(self) -> None:
        """The cloud is reachable again: report unreported stops."""
        self._tripped = False
        channel = self.agent.channel
        if channel is None or not channel.connected:
            return
        for trip in self.trips:
            if not trip.reported:
                await channel.send(MsgType.EVENT, trip.event_body())
                trip.reported = True
                log.info("%s: reported watchdog stop to the cloud", self.agent.name)


def attach_watchdog(agent: EdgeAgent, config: WatchdogConfig | None = None) -> SafetyWatchdog:
    """Create a watchdog for ``agent`` and hook it in; its monitor starts with the first link change."""
    dog = SafetyWatchdog(agent, config).attach()
    return dog
