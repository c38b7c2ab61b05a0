"""The master's world model: where objects are, which containers are open, where robots are.

It lives in the shared memory (:mod:`roboos.memory`: in-process, SQLite or Redis), seeded from a scene
file (:class:`~roboos.sim.kinematic.scene.SceneConfig`) and updated only from explicit information: the
effects a skill reports in its result (:func:`roboos.skills.effects.effects_of`) and the robot state in
STATE messages. Each robot has its own entry (``robot:<name>``), so robots never write the same key.
Planners read :meth:`WorldModel.snapshot`, a plain dict; :meth:`WorldModel.scene_graph` gives the
relations (object *on* / *in* a place, *held by* a robot, robot *at* a place).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from roboos.memory import Change, MemoryBackend
from roboos.memory.local import LocalMemory
from roboos.sim.kinematic.scene import SceneConfig
from roboos.skills.effects import Effect

ROBOT_STATE_KEYS = ("location", "holding", "status", "pose")
LAST_SEEN_BATCH = 64  # robots whose last_seen is written in one store write
WORLD_KINDS = ("place", "object", "robot")


class WorldModel:
    """A symbolic world kept in a :class:`MemoryBackend` (default: in-process)."""

    def __init__(self, scene: SceneConfig | None = None, store: MemoryBackend | None = None, *,
                 reset: bool = False, last_seen_every_s: float = 1.0) -> None:
        self.store = store if store is not None else LocalMemory()
        self.scene_name = scene.name if scene else ""
        self.version = 0
        self.last_seen_every_s = last_seen_every_s
        self._lock = threading.Lock()
        self._robot_cache: dict[str, dict[str, Any]] = {}
        self._seen_at: dict[str, float] = {}  # robot -> when its last_seen was last taken
        self._seen_due: dict[str, float] = {}  # last_seen values not yet written
        self._seen_flushed_at = 0.0
        self._result_ns: dict[str, int] = {}  # edge send time of each robot's latest applied RESULT
        self.before_write: Callable[[], object] | None = None  # e.g. join the master's group commit
        meta = self.store.get("meta", "world")
        if scene is not None and (reset or meta is None or meta.value.get("scene") != scene.name):
            self.seed(scene)

    def seed(self, scene: SceneConfig) -> None:
        """Replace places, objects and robots with the scene's initial state."""
        self.store.clear(WORLD_KINDS)
        changes: list[Change] = []
        for place in scene.places:
            changes += _entity("place", place.name, {"kind": place.kind.value, "position": list(place.position),
                                                     "openable": place.openable, "open": place.open,
                                                     "capacity": place.capacity})
        for obj in scene.objects:
            changes += _entity("object", obj.name, {"kind": obj.kind, "color": obj.color, "location": obj.location,
                                                    "graspable": obj.graspable})
        for robot, station in scene.robots.items():
            changes += _entity("robot", robot, {"location": station.at, "reach": list(station.reach), "holding": None})
        changes += _entity("meta", "world", {"scene": scene.name, "seeded_at": time.time()})
        self.store.apply(changes)
        self._robot_cache.clear()
        self.version += 1

    def snapshot(self) -> dict[str, Any]:
        """``{"scene", "version", "places", "objects", "robots"}`` (names sorted; values are copies)."""
        out: dict[str, Any] = {"scene": self.scene_name, "version": self.version}
        for kind in WORLD_KINDS:
            values = self.store.values(kind)
            out[f"{kind}s"] = {name: values[name] for name in sorted(values)}
        return out

    def scene_graph(self) -> dict[str, Any]:
        """Nodes (places, objects, robots) and relation edges ``(subject, relation, object)``."""
        snap = self.snapshot()
        edges: list[tuple[str, str, str]] = []
        for name, obj in snap["objects"].items():
            loc = str(obj.get("location") or "")
            if loc.startswith("robot:"):
                edges.append((name, "held_by", loc.split(":", 1)[1]))
            elif loc:
                kind = snap["places"].get(loc, {}).get("kind")
                edges.append((name, "in" if kind == "container" else "on", loc))
        for name, robot in snap["robots"].items():
            if robot.get("location"):
                edges.append((name, "at", str(robot["location"])))
        return {"places": snap["places"], "objects": snap["objects"], "robots": snap["robots"], "edges": edges}

    def apply_effects(self, effects: list[Effect]) -> int:
        """Apply ``subject.attribute = value`` changes atomically; returns how many were applied."""
        if not effects:
            return 0
        changes = []
        for effect in effects:
            kind, name = effect.subject.split(":", 1)
            changes.append(Change(kind, name, effect.attribute, effect.value))
        self._write(changes)
        with self._lock:
            for change in changes:
                if change.kind == "robot" and change.attribute in ROBOT_STATE_KEYS:
                    self._robot_cache.setdefault(change.name, {})[change.attribute] = change.value
            self.version += 1
        return len(effects)

    def update_robot(self, robot: str, **attributes: Any) -> None:
        """Write attributes of one robot's own entry (registry and executor bookkeeping)."""
        self._write([Change("robot", robot, k, v) for k, v in attributes.items()])

    def _write(self, changes: list[Change]) -> None:
        if self.before_write is not None:
            self.before_write()
        self.store.apply(changes)

    def note_result(self, robot: str, sent_ns: int) -> None:
        """Remember when (edge clock) the robot sent its latest applied RESULT: state snapshots taken
        before it are stale (they may still show an object the result's effects just placed)."""
        with self._lock:
            self._result_ns[robot] = max(sent_ns, self._result_ns.get(robot, 0))

    def apply_robot_state(self, robot: str, state: dict[str, Any], taken_ns: int = 0) -> bool:
        """Record the explicit fields of a robot's reported state; writes only what changed, at once.
        ``last_seen`` alone is written at most every ``last_seen_every_s`` per robot, many robots per
        store write (``LAST_SEEN_BATCH``): a fleet of 10 Hz robots costs a few transactions a second, not
        one per robot, and none of them holds the event loop long. A snapshot taken before the robot's
        latest applied result is ignored (returns False)."""
        now = time.time()
        seen: list[tuple[str, float]] = []
        with self._lock:
            if taken_ns and taken_ns < self._result_ns.get(robot, 0):
                return False
            cache = self._robot_cache.setdefault(robot, {})
            changed = {k: state[k] for k in ROBOT_STATE_KEYS if k in state and cache.get(k, ...) != state[k]}
            if changed:
                cache.update(changed)
                self.version += 1
                self._seen_at[robot] = now
                self._seen_due.pop(robot, None)
            elif now - self._seen_at.get(robot, 0.0) >= self.last_seen_every_s:
                self._seen_at[robot] = now
                self._seen_due[robot] = now
            if len(self._seen_due) >= LAST_SEEN_BATCH or (self._seen_due and now - self._seen_flushed_at >= 0.1):
                self._seen_flushed_at = now
                while self._seen_due and len(seen) < LAST_SEEN_BATCH:
                    seen.append(self._seen_due.popitem())
        if changed:
            self.update_robot(robot, **changed, last_seen=now)
        if seen:
            self._write([Change("robot", name, "last_seen", t) for name, t in seen])
        return True


def _entity(kind: str, name: str, value: dict[str, Any]) -> list[Change]:
    return [Change(kind, name, attribute, v) for attribute, v in value.items()]
