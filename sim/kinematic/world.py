"""The kinematic world: symbolic places, objects and robot bodies, shared by the robots of one process.

Every query and change goes through one re-entrant lock, so robots driven from different threads (each
skill call runs in a worker thread) see a consistent world. The world is deterministic: no randomness,
and every change is an explicit method call that returns the :class:`~roboos.skills.effects.Effect`
list a skill reports to the cloud.

Checks (``check_*``) raise :class:`~roboos.robot.RobotError` with a message a planner can act on
("the fridge is closed; open it first"); commits (``commit_*``) re-check under the lock, so two robots
racing for one object cannot both get it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roboos.robot import Pose2D, RobotError
from roboos.sim.kinematic.scene import PlaceKind, SceneConfig, load_scene
from roboos.skills.effects import Effect


class InjectedFailure(RobotError):
    """A failure planted with :meth:`World.inject_failure` (for replanning tests and demos)."""


@dataclass
class RobotBody:
    """What the world knows about one robot: where it is, what it holds, what it can reach."""

    name: str
    embodiment: str
    location: str | None  # place the robot is at; None while travelling or after an aborted move
    pose: Pose2D
    reach: tuple[str, ...] | None  # fixed arms: these places; mobile robots: None (= their location)
    holding: str | None = None
    gripper_closed: bool = False


@dataclass
class _Failure:
    skill: str
    robot: str | None
    remaining: int
    message: str


@dataclass
class _State:
    locations: dict[str, str]  # object -> place name or "robot:<name>"
    open: dict[str, bool]  # place -> open
    robots: dict[str, RobotBody] = field(default_factory=dict)


class World:
    """A kinematic household/tabletop world built from a :class:`SceneConfig`."""

    def __init__(self, scene: SceneConfig, *, time_scale: float | None = None) -> None:
        self.scene = scene
        self.time_scale = scene.time_scale if time_scale is None else float(time_scale)
        if self.time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {self.time_scale}")
        self._places = {p.name: p for p in scene.places}
        self._objects = {o.name: o for o in scene.objects}
        self._lock = threading.RLock()
        self._failures: list[_Failure] = []
        self._state = self._initial_state()

    @classmethod
    def from_file(cls, path: str | Path | None = None, *, time_scale: float | None = None) -> World:
        """Load a scene file (default: the built-in household scene) into a fresh world."""
        return cls(load_scene(path), time_scale=time_scale)

    def _initial_state(self) -> _State:
        return _State(
            locations={o.name: o.location for o in self.scene.objects},
            open={p.name: p.open for p in self.scene.places},
        )

    def reset(self) -> None:
        """Put every object and container back to the scene's initial state (robots keep their bodies)."""
        with self._lock:
            robots = self._state.robots
            self._state = self._initial_state()
            for body in robots.values():
                body.holding, body.gripper_closed = None, False
            self._state.robots = robots
            self._failures.clear()

    # ----------------------------------------------------------------------------------------- queries
    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def place_names(self) -> list[str]:
        return list(self._places)

    def object_names(self) -> list[str]:
        return list(self._objects)

    def position(self, place: str) -> tuple[float, float]:
        return self._place(place).position

    def distance(self, a: Pose2D, place: str) -> float:
        x, y = self.position(place)
        return math.hypot(x - a.x, y - a.y)

    def location_of(self, obj: str) -> str:
        """Where an object is: a place name or ``robot:<name>`` while held."""
        with self._lock:
            return self._state.locations[self._object(obj).name]

    def objects_at(self, place: str) -> list[str]:
        with self._lock:
            return sorted(o for o, where in self._state.locations.items() if where == place)

    def is_open(self, place: str) -> bool:
        with self._lock:
            return self._state.open[self._place(place).name]

    def relation(self, obj: str) -> tuple[str, str]:
        """``("on", place)``, ``("in", place)`` or ``("held_by", robot)`` for an object."""
        where = self.location_of(obj)
        if where.startswith("robot:"):
            return "held_by", where.split(":", 1)[1]
        return ("in" if self._places[where].kind is PlaceKind.container else "on"), where

    def body(self, robot: str) -> RobotBody:
        """A copy of a robot's body (safe to read without the lock)."""
        with self._lock:
            return replace(self._body(robot))

    def reachable(self, robot: str) -> list[str]:
        """Places the robot can manipulate at now."""
        with self._lock:
            body = self._body(robot)
            if body.reach is not None:
                return list(body.reach)
            return [body.location] if body.location else []

    def describe(self, obj: str) -> dict[str, Any]:
        """Kind, colour and relation of an object, as a scan reports it."""
        cfg = self._object(obj)
        rel, where = self.relation(obj)
        return {"name": cfg.name, "kind": cfg.kind, "color": cfg.color, "relation": rel, "where": where}

    def snapshot(self) -> dict[str, Any]:
        """The whole world state as plain data (for success checks, the cloud's world model, debugging)."""
        with self._lock:
            return {
                "scene": self.scene.name,
                "objects": dict(self._state.locations),
                "open": {p: o for p, o in self._state.open.items() if self._places[p].openable},
                "robots": {
                    n: {"location": b.location, "pose": b.pose.model_dump(), "holding": b.holding,
                        "gripper_closed": b.gripper_closed}
                    for n, b in self._state.robots.items()
                },
            }

    # ------------------------------------------------------------------------------------------ robots
    def add_robot(self, name: str, embodiment: str, *, at: str, reach: Iterable[str] | None = None) -> RobotBody:
        """Put a robot into the world at place ``at``; ``reach`` fixes the places a fixed arm reaches."""
        with self._lock:
            if name in self._state.robots:
                raise ValueError(f"a robot named '{name}' is already in the world")
            reach_t = None if reach is None else tuple(self._place(p).name for p in reach)
            x, y = self.position(at)
            body = RobotBody(name=name, embodiment=embodiment, location=at, pose=Pose2D(x=x, y=y), reach=reach_t)
            self._state.robots[name] = body
            return replace(body)

    def remove_robot(self, name: str) -> None:
        with self._lock:
            body = self._state.robots.pop(name, None)
            if body and body.holding:  # whatever it held drops where it stands
                self._state.locations[body.holding] = body.location or self._nearest_surface(body.pose)

    def set_pose(self, robot: str, pose: Pose2D, location: str | None) -> list[Effect]:
        """Move a robot's base (navigation progress or arrival)."""
        with self._lock:
            body = self._body(robot)
            body.pose, body.location = pose, location
            return [Effect(subject=f"robot:{robot}", attribute="location", value=location),
                    Effect(subject=f"robot:{robot}", attribute="pose", value=pose.model_dump())]

    # ------------------------------------------------------------------------------------- manipulation
    def check_pick(self, robot: str, obj: str) -> str:
        """Raise unless ``robot`` can pick ``obj`` now; return the place it is taken from."""
        with self._lock:
            body, cfg = self._body(robot), self._object(obj)
            if body.holding:
                raise RobotError(f"{robot}'s gripper is already full (holding '{body.holding}'); place it first")
            where = self._state.locations[cfg.name]
            if where.startswith("robot:"):
                raise RobotError(f"'{obj}' is held by {where.split(':', 1)[1]}")
            if not cfg.graspable:
                raise RobotError(f"'{obj}' cannot be grasped")
            self._require_reach(body, where, f"pick '{obj}'")
            self._require_open(where, f"take '{obj}' out")
            return where

    def commit_pick(self, robot: str, obj: str) -> list[Effect]:
        with self._lock:
            self.check_pick(robot, obj)
            body = self._body(robot)
            self._state.locations[obj] = f"robot:{robot}"
            body.holding, body.gripper_closed = obj, True
            return [Effect(subject=f"object:{obj}", attribute="location", value=f"robot:{robot}"),
                    Effect(subject=f"robot:{robot}", attribute="holding", value=obj)]

    def check_place(self, robot: str, target: str) -> str:
        """Raise unless ``robot`` can put what it holds at ``target``; return the held object."""
        with self._lock:
            body, place = self._body(robot), self._place(target)
            if not body.holding:
                raise RobotError(f"{robot} holds nothing to place")
            if place.kind is PlaceKind.station:
                raise RobotError(f"'{target}' is a {place.kind.value}, not a surface or container")
            self._require_reach(body, target, f"place '{body.holding}' at '{target}'")
            self._require_open(target, f"put '{body.holding}' in")
            if len(self.objects_at(target)) >= place.capacity:
                raise RobotError(f"'{target}' is full (capacity {place.capacity})")
            return body.holding

    def commit_place(self, robot: str, target: str) -> list[Effect]:
        with self._lock:
            obj = self.check_place(robot, target)
            body = self._body(robot)
            self._state.locations[obj] = target
            body.holding, body.gripper_closed = None, False
            return [Effect(subject=f"object:{obj}", attribute="location", value=target),
                    Effect(subject=f"robot:{robot}", attribute="holding", value=None)]

    def set_gripper(self, robot: str, closed: bool) -> list[Effect]:
        """Open or close a gripper. Opening it while holding something drops it where the robot is."""
        with self._lock:
            body = self._body(robot)
            effects = [Effect(subject=f"robot:{robot}", attribute="gripper", value="closed" if closed else "open")]
            if not closed and body.holding:
                obj, drop = body.holding, self._drop_place(body)
                self._state.locations[obj] = drop
                body.holding = None
                effects += [Effect(subject=f"object:{obj}", attribute="location", value=drop),
                            Effect(subject=f"robot:{robot}", attribute="holding", value=None)]
            body.gripper_closed = closed
            return effects

    def check_open(self, robot: str, container: str, open_: bool) -> None:
        """Raise unless ``robot`` can open (or close) ``container`` now."""
        with self._lock:
            body, place = self._body(robot), self._place(container)
            verb = "open" if open_ else "close"
            if not place.openable:
                raise RobotError(f"'{container}' cannot be opened or closed")
            if body.holding:
                raise RobotError(f"{robot} needs a free gripper to {verb} '{container}' (holding '{body.holding}')")
            self._require_reach(body, container, f"{verb} '{container}'")
            if self._state.open[container] == open_:
                raise RobotError(f"'{container}' is already {'open' if open_ else 'closed'}")

    def commit_open(self, robot: str, container: str, open_: bool) -> list[Effect]:
        with self._lock:
            self.check_open(robot, container, open_)
            self._state.open[container] = open_
            return [Effect(subject=f"place:{container}", attribute="open", value=open_)]

    # ------------------------------------------------------------------------------- failure injection
    def inject_failure(self, skill: str, times: int = 1, *, robot: str | None = None,
                       message: str | None = None) -> None:
        """Make the next ``times`` calls of ``skill`` (on ``robot``, or on any robot) fail.

        The failing call raises :class:`InjectedFailure` before it changes the world, so a replanner
        sees a realistic failed step.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        text = message or f"injected failure of '{skill}'"
        with self._lock:
            self._failures.append(_Failure(skill=skill, robot=robot, remaining=times, message=text))

    def take_failure(self, skill: str, robot: str) -> None:
        """Raise :class:`InjectedFailure` if a failure is planted for this skill and robot."""
        with self._lock:
            for failure in self._failures:
                if failure.skill == skill and failure.robot in (None, robot):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    raise InjectedFailure(f"{robot}: {failure.message}")

    def pending_failures(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for f in self._failures:
                out[f.skill] = out.get(f.skill, 0) + f.remaining
            return out

    # -------------------------------------------------------------------------------------- internals
    def _place(self, name: str):  # noqa: ANN202 - PlaceConfig
        try:
            return self._places[name]
        except KeyError:
            raise RobotError(f"unknown place '{name}'; places: {', '.join(self._places)}") from None

    def _object(self, name: str):  # noqa: ANN202 - ObjectConfig
        try:
            return self._objects[name]
        except KeyError:
            raise RobotError(f"unknown object '{name}'; objects: {', '.join(self._objects)}") from None

    def _body(self, robot: str) -> RobotBody:
        try:
            return self._state.robots[robot]
        except KeyError:
            raise RobotError(f"robot '{robot}' is not in the world (is it connected?)") from None

    def _require_reach(self, body: RobotBody, place: str, action: str) -> None:
        if body.reach is not None:
            if place not in body.reach:
                raise RobotError(
                    f"{body.name} cannot {action}: '{place}' is out of reach "
                    f"({body.name} reaches {', '.join(body.reach)})"
                )
        elif body.location != place:
            here = f"at '{body.location}'" if body.location else "between places"
            raise RobotError(f"{body.name} cannot {action}: it is {here}, not at '{place}'; navigate there first")

    def _require_open(self, place: str, action: str) -> None:
        if not self._state.open[place]:
            raise RobotError(f"cannot {action}: '{place}' is closed; open it first")

    def _drop_place(self, body: RobotBody) -> str:
        candidates = [body.location] if body.location else []
        if body.reach:
            candidates = list(body.reach)
        for place in candidates:
            if place and self._places[place].kind is not PlaceKind.station and self._state.open[place]:
                return place
        return self._nearest_surface(body.pose)

    def _nearest_surface(self, pose: Pose2D) -> str:
        surfaces = [p for p in self._places.values() if p.kind is PlaceKind.surface]
        if not surfaces:
            surfaces = list(self._places.values())
        return min(surfaces, key=lambda p: (self.distance(pose, p.name), p.name)).name
