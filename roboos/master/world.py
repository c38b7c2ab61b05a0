"""The master's world model: where objects are, which containers are open, where robots are.

It starts from a scene file (:class:`~roboos.sim.kinematic.scene.SceneConfig`) and is updated only from
explicit information: the effects a skill reports in its result (:func:`roboos.skills.effects.effects_of`)
and the robot state in STATE messages. Planners read :meth:`WorldModel.snapshot`, a plain dict.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from roboos.skills.effects import Effect
from roboos.sim.kinematic.scene import SceneConfig

ROBOT_STATE_KEYS = ("location", "holding", "status", "pose")


class WorldModel:
    """A thread-safe, in-memory symbolic world: ``places``, ``objects`` and ``robots`` dicts."""

    def __init__(self, scene: SceneConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.scene_name = scene.name if scene else ""
        self._places: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, dict[str, Any]] = {}
        self._robots: dict[str, dict[str, Any]] = {}
        self.version = 0
        if scene is not None:
            self._load(scene)

    def _load(self, scene: SceneConfig) -> None:
        for place in scene.places:
            self._places[place.name] = {
                "kind": place.kind.value,
                "position": list(place.position),
                "openable": place.openable,
                "open": place.open,
                "capacity": place.capacity,
            }
        for obj in scene.objects:
            self._objects[obj.name] = {
                "kind": obj.kind,
                "color": obj.color,
                "location": obj.location,
                "graspable": obj.graspable,
            }
        for robot, station in scene.robots.items():
            self._robots[robot] = {"location": station.at, "reach": list(station.reach), "holding": None}

    def snapshot(self) -> dict[str, Any]:
        """A deep copy: ``{"scene", "version", "places", "objects", "robots"}``."""
        with self._lock:
            return {
                "scene": self.scene_name,
                "version": self.version,
                "places": copy.deepcopy(self._places),
                "objects": copy.deepcopy(self._objects),
                "robots": copy.deepcopy(self._robots),
            }

    def apply_effects(self, effects: list[Effect]) -> int:
        """Apply ``subject.attribute = value`` changes; returns how many were applied."""
        if not effects:
            return 0
        with self._lock:
            for effect in effects:
                kind, name = effect.subject.split(":", 1)
                table = {"object": self._objects, "place": self._places, "robot": self._robots}[kind]
                table.setdefault(name, {})[effect.attribute] = copy.deepcopy(effect.value)
            self.version += 1
        return len(effects)

    def apply_robot_state(self, robot: str, state: dict[str, Any]) -> None:
        """Record the explicit fields of a robot's reported state (location, holding, status, pose)."""
        with self._lock:
            entry = self._robots.setdefault(robot, {})
            changed = False
            for key in ROBOT_STATE_KEYS:
                if key in state and entry.get(key) != state[key]:
                    entry[key] = copy.deepcopy(state[key])
                    changed = True
            if changed:
                self.version += 1
