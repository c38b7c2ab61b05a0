"""Compact planner prompts: robots with one-line skill signatures, the world in one line per kind."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from roboos.master.models import Plan, RobotInfo, Step
from roboos.master.planning.base import PlanRequest
from roboos.skills.card import SkillCard

SYSTEM_PROMPT = """You are the task planner of a multi-robot system. Split the user's instruction into skill \
calls on the listed robots. Reply with ONE JSON object and nothing else:
{"steps":[{"id":"s1","robot":"<robot>","skill":"<skill>","args":{...},"depends_on":[]}],"notes":"<short>"}
Rules: use only listed robots and their skills; args must match the skill's parameters; ids are unique; \
depends_on lists ids of steps that must finish first (no cycles); a robot runs one step at a time; steps \
on different robots with no dependency run in parallel, so only add dependencies that are needed; a robot \
can only manipulate places it can reach (a mobile robot must navigate there first); plan only what is \
still left to do in the current world."""


def skill_signature(card: SkillCard, world: dict[str, Any] | None = None) -> str:
    """``pick(object: <object>) - Grasp an object within reach``: enums inline, or ``<place>``/``<object>``
    when an enum lists exactly the world's places/objects (listed once below); optional args get '?'."""
    props: dict[str, Any] = card.parameters.get("properties", {})
    required = set(card.parameters.get("required", []))
    names = {"<place>": set((world or {}).get("places", {})), "<object>": set((world or {}).get("objects", {}))}
    params = []
    for name, schema in props.items():
        params.append(f"{name}{'' if name in required else '?'}: {_type(schema, names)}")
    return f"{card.name}({', '.join(params)}) - {card.description}"


def _type(schema: dict[str, Any], names: dict[str, set[str]]) -> str:
    if "enum" in schema:
        values = [str(v) for v in schema["enum"]]
        alias = next((a for a, known in names.items() if known and set(values) == known), None)
        return alias or "|".join(values)
    if "const" in schema:
        return str(schema["const"])
    if "anyOf" in schema:
        return "|".join(_type(s, names) for s in schema["anyOf"])
    return str(schema.get("type", "any"))


def describe_robots(robots: list[RobotInfo], world: dict[str, Any], keep: set[str] | None = None) -> str:
    """One line per robot, then one per skill (only the skills named in ``keep``, when given)."""
    lines = []
    for robot in robots:
        known = {**world.get("robots", {}).get(robot.name, {}), **{k: v for k, v in robot.state.items() if v is not None}}
        where = f"at {known['location']}" if known.get("location") else "location unknown"
        reach = robot.profile.get("reach") or known.get("reach")
        reach_txt = f", reaches {','.join(reach)}" if reach else ", mobile" if robot.skill("navigate") else ""
        holding = f", holding {known['holding']}" if known.get("holding") else ""
        lines.append(f"- {robot.name} ({robot.embodiment}, {where}{reach_txt}{holding}):")
        lines.extend(f"    {skill_signature(card, world)}" for card in robot.skills if keep is None or card.name in keep)
    return "\n".join(lines) or "(no robots online)"


def describe_world(world: dict[str, Any]) -> str:
    places = []
    for name, info in world.get("places", {}).items():
        flag = "" if not info.get("openable") else " (open)" if info.get("open") else " (closed)"
        places.append(f"{name}{flag}")
    objects = [f"{name}@{info.get('location')}" for name, info in world.get("objects", {}).items()]
    return f"Places (<place>): {', '.join(places)}\nObjects (<object>, name@location): {', '.join(objects)}"


def _step_line(step: Step) -> str:
    args = json.dumps(step.args, separators=(",", ":"))
    return f"{step.id} {step.robot}.{step.skill}{args} [{step.status.value}]"


def describe_failure(request: PlanRequest) -> str:
    if request.previous_plan is None and request.failed_step is None:
        return ""
    parts = [f"REPLAN #{request.replan}: the previous plan did not finish."]
    if request.previous_plan is not None:
        parts.append("Previous plan: " + "; ".join(_step_line(s) for s in request.previous_plan.steps))
    if request.failed_step is not None:
        err = request.error or request.failed_step.error or {}
        parts.append(f"Failed step: {_step_line(request.failed_step)} error {err.get('code', '?')}: "
                     f"{err.get('message', '')}")
    if request.history:
        parts.append("Recent history:\n" + "\n".join(request.history[-10:]))
    parts.append("Plan only the remaining work from the current world; avoid repeating the failure.")
    return "\n".join(parts)


def build_messages(request: PlanRequest, keep: set[str] | None = None) -> list[dict[str, str]]:
    """Chat messages for an OpenAI-compatible endpoint; ``keep`` limits the listed skills by name."""
    user = [f"Robots and skills:\n{describe_robots(request.robots, request.world, keep)}",
            describe_world(request.world)]
    failure = describe_failure(request)
    if failure:
        user.append(failure)
    user.append(f"Instruction: {request.instruction}")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(user)}]


def parse_plan_json(text: str) -> Plan:
    """Extract the JSON object from a completion (code fences and chatter around it are tolerated).

    Raises ``ValueError`` with a precise message for anything that is not a plan object.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("the reply contains no JSON object")
    try:
        data = json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON: {exc.msg} at char {exc.pos}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ValueError("the JSON object must have a 'steps' list")
    steps = []
    for i, raw in enumerate(data["steps"]):
        if not isinstance(raw, dict):
            raise ValueError(f"steps[{i}] must be an object")
        unknown = set(raw) - {"id", "robot", "skill", "args", "depends_on"}
        if unknown:
            raise ValueError(f"steps[{i}] has unknown keys: {', '.join(sorted(unknown))}")
        fields = {k: v for k, v in raw.items() if k != "id"}
        try:
            steps.append(Step.model_validate({"id": str(raw.get("id", f"s{i + 1}")), **fields}))
        except ValidationError as exc:  # keep it short: it is fed back to the model
            first = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"steps[{i}].{loc}: {first['msg']}") from None
    notes = data.get("notes", "")
    return Plan(steps=steps, notes=notes if isinstance(notes, str) else json.dumps(notes))
