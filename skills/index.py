"""The cloud's skill index: which robot offers which skill, at which version, and who is online.

The master feeds it from the channel: :meth:`SkillIndex.register` on every ``hello`` (re-registration
replaces the robot's previous skills) and :meth:`SkillIndex.set_online` / :meth:`SkillIndex.unregister`
on heartbeat loss or ``bye``. Retrieval and the planner prompt read :meth:`SkillIndex.cards` (the
deduplicated skills of online robots) and :meth:`SkillIndex.robots_offering`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from roboos.skills.card import SkillCard
from roboos.skills.errors import SkillDefinitionError


@dataclass
class RobotSkills:
    """The skills one robot registered with, and whether it is online now."""

    robot: str
    embodiment: str
    cards: dict[str, SkillCard] = field(default_factory=dict)
    online: bool = True


@dataclass(frozen=True)
class SkillOffer:
    """One robot offering one skill version."""

    robot: str
    embodiment: str
    version: str
    online: bool


class SkillIndex:
    """Thread-safe registry of every robot's skill cards; ``generation`` changes on every update."""

    def __init__(self) -> None:
        self._robots: dict[str, RobotSkills] = {}
        self._lock = threading.Lock()
        self.generation = 0
        self._listeners: list[Callable[[SkillIndex], None]] = []

    # ----------------------------------------------------------------- updates (from the master)
    def register(self, robot: str, embodiment: str, cards: Iterable[SkillCard | Mapping[str, Any]]) -> list[SkillCard]:
        """Record a robot's skills from its ``hello`` (replacing earlier ones); the robot is online.

        Cards arrive as ``SkillCard.model_dump()`` dicts from the wire; each is validated and a bad one
        raises :class:`SkillDefinitionError` naming the robot and the card (nothing is recorded then).
        """
        parsed: dict[str, SkillCard] = {}
        for i, raw in enumerate(cards):
            try:
                card = raw if isinstance(raw, SkillCard) else SkillCard.model_validate(raw)
            except ValidationError as exc:
                raise SkillDefinitionError(f"robot '{robot}' sent an invalid skill card #{i}: {exc}",
                                           robot=robot, index=i) from None
            if card.name in parsed:
                raise SkillDefinitionError(f"robot '{robot}' registered skill '{card.name}' twice", robot=robot)
            parsed[card.name] = card
        with self._lock:
            self._robots[robot] = RobotSkills(robot=robot, embodiment=embodiment, cards=parsed, online=True)
            self._bump()
        self._notify()
        return list(parsed.values())

    def set_online(self, robot: str, online: bool) -> None:
        """Mark a known robot online/offline (its skills stay known; offline ones are not offered)."""
        with self._lock:
            entry = self._robots.get(robot)
            if entry is None or entry.online == online:
                return
            entry.online = online
            self._bump()
        self._notify()

    def unregister(self, robot: str) -> None:
        """Forget a robot and its skills (after ``bye``)."""
        with self._lock:
            if self._robots.pop(robot, None) is None:
                return
            self._bump()
        self._notify()

    def follow(self, registry: Any) -> None:
        """Keep in step with the master's robot registry (``listeners`` of ``(robot, kind, data)``).

        ``online`` (a HELLO) records the robot's cards from ``registry.info(robot)``; ``offline`` (heartbeat
        loss or BYE) marks it offline.
        """

        def on_change(robot: str, kind: str, data: dict[str, Any]) -> None:
            if kind == "online":
                info = registry.info(robot)
                self.register(robot, info.embodiment, info.skills)
            elif kind == "offline":
                self.set_online(robot, False)

        registry.listeners.append(on_change)

    def subscribe(self, listener: Callable[[SkillIndex], None]) -> None:
        """Call ``listener(index)`` after every change (e.g. to refresh a retrieval index)."""
        self._listeners.append(listener)

    # ----------------------------------------------------------------- queries
    def robots(self, *, online_only: bool = False) -> list[RobotSkills]:
        with self._lock:
            return [r for r in self._robots.values() if r.online or not online_only]

    def robot_cards(self, robot: str) -> list[SkillCard]:
        """The skills one robot registered (``KeyError`` for an unknown robot)."""
        with self._lock:
            return list(self._robots[robot].cards.values())

    def embodiments(self, *, online_only: bool = True) -> set[str]:
        return {r.embodiment for r in self.robots(online_only=online_only)}

    def robots_offering(self, skill: str, *, online_only: bool = True) -> list[SkillOffer]:
        """Every robot that offers ``skill``, with the version it offers."""
        return [
            SkillOffer(r.robot, r.embodiment, r.cards[skill].version, r.online)
            for r in self.robots(online_only=online_only)
            if skill in r.cards
        ]

    def cards(self, *, online_only: bool = True) -> list[SkillCard]:
        """One card per skill name over the (online) robots; the highest version wins a name clash."""
        best: dict[str, SkillCard] = {}
        for entry in self.robots(online_only=online_only):
            for card in entry.cards.values():
                old = best.get(card.name)
                if old is None or version_key(card.version) > version_key(old.version):
                    best[card.name] = card
        return [best[name] for name in sorted(best)]

    def robots_by_skill(self, *, online_only: bool = True) -> dict[str, list[str]]:
        """Skill name -> names of the robots offering it."""
        out: dict[str, list[str]] = {}
        for entry in self.robots(online_only=online_only):
            for name in entry.cards:
                out.setdefault(name, []).append(entry.robot)
        return out

    def _bump(self) -> None:
        self.generation += 1

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self)


def version_key(version: str) -> tuple[Any, ...]:
    """A sortable key for dotted versions (``1.10.0`` > ``1.9.2``); non-numeric parts sort as text."""
    parts: list[Any] = []
    for piece in version.replace("-", ".").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)
