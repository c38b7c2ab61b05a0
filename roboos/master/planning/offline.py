"""The offline rule-based planner: deterministic plans for the sim scenes, no model needed.

It parses the instruction into goals (:mod:`.parse`), then turns each goal into a chain of skill calls
(navigate / open / pick / place / close) bound to the robot that can do it: a fixed arm for what lies
within its reach, a mobile manipulator otherwise, the least-loaded robot on ties. Chains on different
robots have no dependencies unless they touch the same object or container, so they run concurrently.
Plans are made from the current world snapshot, so a replan only plans what is still left to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roboos.master.models import Plan, PlanningError, RobotInfo, Step
from roboos.master.planning.base import PlanRequest
from roboos.master.planning.parse import Goal, parse_instruction
from roboos.master.planning.validate import validate_plan
from roboos.skills.card import SkillCard

OFFLINE_PLANNER_NAME = "offline rule-based planner"

VERB_SKILLS: dict[str, tuple[str, ...]] = {
    "navigate": ("navigate", "navigate_to", "go_to", "move_to"),
    "pick": ("pick", "pick_up", "grasp"),
    "place": ("place", "put", "place_on"),
    "open": ("open", "open_container"),
    "close": ("close", "close_container"),
}
_OBJECT_ARGS = ("object", "obj", "item", "object_name", "target_object")
_PLACE_ARGS = ("place", "target", "location", "destination", "to", "where", "surface", "container", "place_name")


@dataclass
class _Robot:
    """A robot as the planner sees it: verb -> skill card, reach, and the planned position/load."""

    info: RobotInfo
    verbs: dict[str, SkillCard]
    reach: set[str] | None  # None: mobile (reaches wherever it navigates)
    location: str | None
    holding: str | None
    load: int = 0
    last_step: str | None = None

    @property
    def name(self) -> str:
        return self.info.name

    def can(self, *verbs: str) -> bool:
        return all(v in self.verbs for v in verbs)

    def reaches(self, place: str) -> bool:
        return self.reach is None or place in self.reach


@dataclass
class _Builder:
    """Accumulates steps while simulating the world forward (object locations, open containers)."""

    world: dict[str, Any]
    robots: list[_Robot]
    avoid: dict[str, set[str]]  # robot -> objects ("*" = everything) it should not be given on this replan
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    object_step: dict[str, str] = field(default_factory=dict)  # last step that touched an object
    place_step: dict[str, str] = field(default_factory=dict)  # last step that opened/closed a place

    # ---- world helpers -------------------------------------------------------------------------
    def location(self, obj: str) -> str:
        return str(self.world["objects"][obj].get("location", ""))

    def is_closed(self, place: str) -> bool:
        info = self.world["places"].get(place, {})
        return bool(info.get("openable")) and not info.get("open", True)

    # ---- step emission ---------------------------------------------------------------------------
    def emit(self, robot: _Robot, verb: str, deps: set[str], *, obj: str | None = None, place: str | None = None) -> str:
        card = robot.verbs[verb]
        step_id = f"s{len(self.steps) + 1}"
        depends = set(deps)
        if robot.last_step:
            depends.add(robot.last_step)
        self.steps.append(Step(id=step_id, robot=robot.name, skill=card.name, args=_args(card, verb, obj, place),
                               depends_on=sorted(depends, key=lambda s: int(s[1:]))))
        robot.last_step, robot.load = step_id, robot.load + 1
        if obj:
            self.object_step[obj] = step_id
        if verb in ("open", "close") and place:
            self.place_step[place] = step_id
            self.world["places"][place]["open"] = verb == "open"
        return step_id

    def go(self, robot: _Robot, place: str, deps: set[str]) -> None:
        """Navigate a mobile robot to ``place`` (nothing for an arm or when already there)."""
        if robot.reach is None and robot.location != place:
            self.emit(robot, "navigate", deps, place=place)
            robot.location = place

    def ensure_open(self, robot: _Robot, place: str, deps: set[str]) -> None:
        if self.is_closed(place):
            if not robot.can("open"):
                raise PlanningError(f"the {place} is closed and robot '{robot.name}' has no open skill")
            self.emit(robot, "open", deps | self._place_dep(place), place=place)

    def _place_dep(self, place: str) -> set[str]:
        return {self.place_step[place]} if place in self.place_step else set()

    def _object_dep(self, obj: str) -> set[str]:
        return {self.object_step[obj]} if obj in self.object_step else set()

    # ---- goals ---------------------------------------------------------------------------------
    def choose(self, goal: Goal, verbs: tuple[str, ...], places: list[str], obj: str | None) -> _Robot:
        capable = [r for r in self.robots if r.can(*verbs) and all(r.reaches(p) for p in places)]
        if not capable:
            need = ", ".join(verbs)
            where = f" reaching {' and '.join(places)}" if places else ""
            online = ", ".join(f"{r.name} ({r.info.embodiment})" for r in self.robots) or "none"
            raise PlanningError(f"'{goal.clause}': no online robot with skills {need}{where} (online: {online})")

        def rank(r: _Robot) -> tuple[int, int, int, str]:
            avoided = "*" in self.avoid.get(r.name, set()) or (obj is not None and obj in self.avoid.get(r.name, set()))
            return (int(avoided), 0 if r.reach is not None else 1, r.load, r.name)

        return min(capable, key=rank)

    def move(self, goal: Goal) -> None:
        obj, dst = goal.object, goal.place
        assert obj is not None and dst is not None
        src = self.location(obj)
        if src == dst:
            self.notes.append(f"'{goal.clause}': the {obj} is already at the {dst}")
            return
        if self.world["places"].get(dst, {}).get("kind") == "station":
            raise PlanningError(f"'{goal.clause}': the {dst} is a station and holds no objects")
        holder = self._holder(obj)
        if holder is not None:
            robot = holder
            if not robot.reaches(dst):
                raise PlanningError(f"'{goal.clause}': the {obj} is held by '{robot.name}', which cannot reach the {dst}")
        else:
            if not self.world["objects"][obj].get("graspable", True):
                raise PlanningError(f"'{goal.clause}': the {obj} cannot be grasped")
            verbs = ("pick", "place") + (("open",) if self.is_closed(src) or self.is_closed(dst) else ())
            robot = self.choose(goal, verbs, [src, dst], obj)
            self._free_hand(robot, goal)
            deps = self._object_dep(obj)
            self.go(robot, src, deps)
            self.ensure_open(robot, src, deps)
            self.emit(robot, "pick", deps | self._place_dep(src), obj=obj, place=src)
            robot.holding = obj
        self.go(robot, dst, set())
        self.ensure_open(robot, dst, set())
        self.emit(robot, "place", self._place_dep(dst), obj=obj, place=dst)
        robot.holding = None
        self.world["objects"][obj]["location"] = dst

    def pick(self, goal: Goal) -> None:
        obj = goal.object
        assert obj is not None
        if self._holder(obj) is not None:
            self.notes.append(f"'{goal.clause}': the {obj} is already held")
            return
        src = self.location(obj)
        robot = self.choose(goal, ("pick",) + (("open",) if self.is_closed(src) else ()), [src], obj)
        self._free_hand(robot, goal)
        deps = self._object_dep(obj)
        self.go(robot, src, deps)
        self.ensure_open(robot, src, deps)
        self.emit(robot, "pick", deps | self._place_dep(src), obj=obj, place=src)
        robot.holding = obj
        self.world["objects"][obj]["location"] = f"robot:{robot.name}"

    def goto(self, goal: Goal) -> None:
        assert goal.place is not None
        robot = self.choose(goal, ("navigate",), [], None)
        if robot.location == goal.place:
            self.notes.append(f"'{goal.clause}': '{robot.name}' is already at the {goal.place}")
        self.go(robot, goal.place, set())

    def open_close(self, goal: Goal) -> None:
        place = goal.place
        assert place is not None
        if not self.world["places"][place].get("openable"):
            raise PlanningError(f"'{goal.clause}': the {place} cannot be opened or closed")
        want_open = goal.kind == "open"
        if bool(self.world["places"][place].get("open")) == want_open:
            self.notes.append(f"'{goal.clause}': the {place} is already {'open' if want_open else 'closed'}")
            return
        robot = self.choose(goal, (goal.kind,), [place], None)
        self.go(robot, place, set())
        self.emit(robot, goal.kind, self._place_dep(place), place=place)

    def _holder(self, obj: str) -> _Robot | None:
        loc = self.location(obj)
        if not loc.startswith("robot:"):
            return None
        name = loc.split(":", 1)[1]
        robot = next((r for r in self.robots if r.name == name), None)
        if robot is None:
            raise PlanningError(f"the {obj} is held by robot '{name}', which is offline")
        return robot

    def _free_hand(self, robot: _Robot, goal: Goal) -> None:
        if robot.holding:
            raise PlanningError(f"'{goal.clause}': robot '{robot.name}' is still holding the {robot.holding}")


class OfflinePlanner:
    """Deterministic "offline rule-based planner" for the sim scenes (no model, no network)."""

    name = OFFLINE_PLANNER_NAME

    async def plan(self, request: PlanRequest) -> Plan:
        world = _planning_world(request.world)
        goals = parse_instruction(request.instruction, world)
        robots = [_view(r, world) for r in request.robots if r.online]
        builder = _Builder(world=world, robots=robots, avoid=_avoid(request, world))
        for goal in goals:
            {"move": builder.move, "pick": builder.pick, "goto": builder.goto,
             "open": builder.open_close, "close": builder.open_close}[goal.kind](goal)
        notes = "; ".join(builder.notes)
        if request.replan:
            notes = f"replan {request.replan}" + (f": {notes}" if notes else "")
        plan = Plan(steps=builder.steps, planner=self.name, notes=notes)
        return validate_plan(plan, request.robots)


def _planning_world(world: dict[str, Any]) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(world)
    for key in ("places", "objects", "robots"):
        out.setdefault(key, {})
    return out


def _view(info: RobotInfo, world: dict[str, Any]) -> _Robot:
    verbs: dict[str, SkillCard] = {}
    for verb, names in VERB_SKILLS.items():
        card = next((c for n in names if (c := info.skill(n)) is not None), None)
        if card is not None:
            verbs[verb] = card
    known = world["robots"].get(info.name, {})
    state = info.state or {}
    location = state.get("location") or known.get("location")
    holding = state.get("holding", known.get("holding"))
    if "navigate" in verbs:
        reach = None
    else:
        reach_list = info.profile.get("reach") or known.get("reach") or ([location] if location else [])
        reach = set(reach_list)
    return _Robot(info=info, verbs=verbs, reach=reach, location=location, holding=holding)


def _avoid(request: PlanRequest, world: dict[str, Any]) -> dict[str, set[str]]:
    """On a replan, steer work that failed on a robot towards another capable robot, where one exists."""
    step = request.failed_step
    if step is None:
        return {}
    objects = {v for v in step.args.values() if isinstance(v, str) and v in world["objects"]}
    return {step.robot: objects or {"*"}}


def _args(card: SkillCard, verb: str, obj: str | None, place: str | None) -> dict[str, Any]:
    """Fill a card's arguments with the object / place by parameter name (required ones at least)."""
    props: dict[str, Any] = card.parameters.get("properties", {})
    required: list[str] = list(card.parameters.get("required", []))
    args: dict[str, Any] = {}
    for name in props:
        lowered = name.lower()
        if obj is not None and lowered in _OBJECT_ARGS:
            args[name] = obj
        elif place is not None and lowered in _PLACE_ARGS:
            args[name] = place
    missing = [n for n in required if n not in args]
    primary = obj if verb == "pick" else place  # a lone, oddly named parameter takes the verb's main value
    if len(missing) == 1 and primary is not None and primary not in args.values():
        args[missing[0]] = primary
    return args
