"""The robot registry: fed by the CloudChannel's hooks (HELLO, STATE/EVENT messages, disconnects).

Liveness comes from the channel (heartbeats): a robot whose link is down is offline, is not offered to
planners and gets no new steps. STATE messages update the robot's last state and the world model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from roboos.master.models import RobotInfo
from roboos.master.world import WorldModel
from roboos.protocol import Envelope, MsgType
from roboos.protocol.messages import EventBody, HelloBody, StateBody
from roboos.skills.card import SkillCard

log = logging.getLogger("roboos.master.registry")


class RegistrationError(ValueError):
    """A HELLO that cannot be accepted (bad skill cards); the channel refuses the robot with this text."""


@dataclass
class _Entry:
    hello: HelloBody
    skills: list[SkillCard]
    state: dict[str, Any] = field(default_factory=dict)
    online: bool = True
    registered_at: float = field(default_factory=time.time)
    last_event: dict[str, Any] | None = None


class RobotRegistry:
    """Known robots, their skill cards, last state and online flag; awaitable liveness changes."""

    def __init__(self, world: WorldModel, link_age: Callable[[str], float | None] = lambda _name: None) -> None:
        self.world = world
        self._link_age = link_age
        self._robots: dict[str, _Entry] = {}
        self._changed = asyncio.Event()
        self.listeners: list[Callable[[str, str, dict[str, Any]], None]] = []  # (robot, kind, data)

    # ------------------------------------------------------------------------------ channel hooks
    def register(self, hello_body: dict[str, Any]) -> RobotInfo:
        """Register (or re-register) a robot from its HELLO body; raises :class:`RegistrationError`."""
        try:
            hello = HelloBody.model_validate(hello_body)
        except ValidationError as exc:
            raise RegistrationError(f"invalid HELLO: {exc.errors(include_url=False)[0]['msg']}") from None
        cards = []
        for i, raw in enumerate(hello.skills):
            try:
                cards.append(SkillCard.model_validate(raw))
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err["loc"])
                raise RegistrationError(f"robot '{hello.robot}': skill card {i} ({where}): {err['msg']}") from None
        old = self._robots.get(hello.robot)
        self._robots[hello.robot] = _Entry(hello=hello, skills=cards, state=old.state if old else {})
        self._notify(hello.robot, "online", {"embodiment": hello.embodiment, "skills": [c.name for c in cards]})
        log.info("robot %s (%s) online with %d skills", hello.robot, hello.embodiment, len(cards))
        return self.info(hello.robot)

    def on_message(self, env: Envelope) -> None:
        """STATE updates the robot's state and the world model; EVENT is kept and announced."""
        entry = self._robots.get(env.src)
        if entry is None:
            return
        try:
            if env.type is MsgType.STATE:
                body = StateBody.model_validate(env.body)
                if self.world.apply_robot_state(env.src, body.state, taken_ns=body.taken_ns):
                    entry.state = body.state
            elif env.type is MsgType.EVENT:
                event = EventBody.model_validate(env.body)
                entry.last_event = event.model_dump()
                self._notify(env.src, "event", entry.last_event)
        except ValidationError as exc:
            log.warning("dropping bad %s from %s: %s", env.type.value, env.src, exc.errors(include_url=False)[:1])

    def mark_offline(self, robot: str, reason: str) -> None:
        entry = self._robots.get(robot)
        if entry is not None and entry.online:
            entry.online = False
            self._notify(robot, "offline", {"reason": reason})
            log.info("robot %s offline: %s", robot, reason)

    # ------------------------------------------------------------------------------------ queries
    def names(self) -> list[str]:
        return sorted(self._robots)

    def __contains__(self, robot: object) -> bool:
        return robot in self._robots

    def is_online(self, robot: str) -> bool:
        entry = self._robots.get(robot)
        return entry is not None and entry.online

    def info(self, robot: str) -> RobotInfo:
        entry = self._robots[robot]
        return RobotInfo(name=robot, embodiment=entry.hello.embodiment, online=entry.online,
                         skills=list(entry.skills), state=dict(entry.state),
                         heartbeat_age_s=self._link_age(robot), profile=dict(entry.hello.profile))

    def list(self, *, online_only: bool = False) -> list[RobotInfo]:
        return [self.info(n) for n in self.names() if not online_only or self._robots[n].online]

    def card(self, robot: str, skill: str) -> SkillCard | None:
        entry = self._robots.get(robot)
        return next((c for c in entry.skills if c.name == skill), None) if entry else None

    async def wait_online(self, robot: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for ``robot`` to be online; returns whether it is."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.is_online(robot):
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                return self.is_online(robot)
        return True

    async def wait_offline(self, robot: str) -> None:
        """Return once ``robot`` is offline (immediately if it already is)."""
        while self.is_online(robot):
            await self._changed.wait()

    async def wait_for(self, names: list[str], timeout: float) -> list[str]:
        """Wait until all ``names`` are online (or the timeout); returns those still missing."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for name in names:
            if not await self.wait_online(name, max(0.0, deadline - loop.time())):
                break
        return [n for n in names if not self.is_online(n)]

    def _notify(self, robot: str, kind: str, data: dict[str, Any]) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in list(self.listeners):
            try:
                listener(robot, kind, data)
            except Exception:  # a listener bug must not break registration
                log.exception("registry listener failed")
