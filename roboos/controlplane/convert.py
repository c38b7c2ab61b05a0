"""Conversions between the master's pydantic models and the control plane's protobuf messages.

Free-form values (skill arguments, results, errors, robot state and profile, JSON schemas) travel as
JSON text; an empty string stands for ``None``. Enums map by name (``TaskStatus.running`` <->
``TASK_STATUS_RUNNING``). Decoding validates: a malformed JSON field or an unknown enum value raises
:class:`ConversionError` naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from roboos.controlplane.gen import control_pb2 as pb
from roboos.master.models import Plan, RobotInfo, Step, StepStatus, TaskEvent, TaskRecord, TaskStatus
from roboos.skills.card import SkillCard


class ConversionError(ValueError):
    """A protobuf message could not be turned into a model (bad JSON field, unknown enum value)."""


# ----------------------------------------------------------------------------------------------- values
def dump_json(value: Any) -> str:
    """Compact JSON of ``value`` (``""`` for ``None``); pydantic models, enums, tuples... are converted."""
    if value is None:
        return ""
    return json.dumps(to_jsonable_python(value), separators=(",", ":"), ensure_ascii=False)


def load_json(text: str, field: str) -> Any:
    """Parse a ``*_json`` field (``None`` for ``""``); bad JSON raises :class:`ConversionError`."""
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{field}: not valid JSON ({exc.msg} at character {exc.pos})") from exc


def _load_object(text: str, field: str) -> dict[str, Any]:
    value = load_json(text, field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConversionError(f"{field}: expected a JSON object, got {type(value).__name__}")
    return value


# ------------------------------------------------------------------------------------------------ enums
def _enum_to_pb(enum: Any, prefix: str, value: str) -> int:
    return enum.Value(f"{prefix}_{value.upper()}")


def _enum_from_pb(enum: Any, prefix: str, value: int, field: str, what: str) -> str:
    """The lower-case name of a proto enum value; unknown or UNSPECIFIED values are refused."""
    name = enum.Name(value) if value in enum.values() else ""
    if not name.startswith(f"{prefix}_") or name == f"{prefix}_UNSPECIFIED":
        raise ConversionError(f"{field}: unknown {what} {value}")
    return name.removeprefix(f"{prefix}_").lower()


def task_status_to_pb(status: TaskStatus) -> int:
    return _enum_to_pb(pb.TaskStatus, "TASK_STATUS", TaskStatus(status).value)


def task_status_from_pb(value: int) -> TaskStatus:
    return TaskStatus(_enum_from_pb(pb.TaskStatus, "TASK_STATUS", value, "status", "task status"))


def step_status_to_pb(status: StepStatus) -> int:
    return _enum_to_pb(pb.StepStatus, "STEP_STATUS", StepStatus(status).value)


def step_status_from_pb(value: int) -> StepStatus:
    return StepStatus(_enum_from_pb(pb.StepStatus, "STEP_STATUS", value, "status", "step status"))


def event_kind_to_pb(kind: str) -> int:
    return _enum_to_pb(pb.EventKind, "EVENT_KIND", kind)


def event_kind_from_pb(value: int) -> str:
    return _enum_from_pb(pb.EventKind, "EVENT_KIND", value, "kind", "event kind")


# --------------------------------------------------------------------------------------------- messages
def step_to_pb(step: Step) -> pb.Step:
    msg = pb.Step(
        id=step.id,
        robot=step.robot,
        skill=step.skill,
        args_json=dump_json(step.args),
        depends_on=list(step.depends_on),
        status=step_status_to_pb(step.status),
        attempts=step.attempts,
        error_json=dump_json(step.error),
        result_json=dump_json(step.result),
    )
    if step.started_at is not None:
        msg.started_at = step.started_at
    if step.finished_at is not None:
        msg.finished_at = step.finished_at
    return msg


def step_from_pb(msg: pb.Step) -> Step:
    error = load_json(msg.error_json, "step.error_json")
    if error is not None and not isinstance(error, dict):
        raise ConversionError("step.error_json: expected a JSON object")
    return _validated(
        Step,
        id=msg.id,
        robot=msg.robot,
        skill=msg.skill,
        args=_load_object(msg.args_json, "step.args_json"),
        depends_on=list(msg.depends_on),
        status=step_status_from_pb(msg.status),
        attempts=msg.attempts,
        error=error,
        result=load_json(msg.result_json, "step.result_json"),
        started_at=msg.started_at if msg.HasField("started_at") else None,
        finished_at=msg.finished_at if msg.HasField("finished_at") else None,
    )


def plan_to_pb(plan: Plan) -> pb.Plan:
    return pb.Plan(
        steps=[step_to_pb(s) for s in plan.steps],
        planner=plan.planner,
        prompt_tokens=plan.prompt_tokens,
        completion_tokens=plan.completion_tokens,
        notes=plan.notes,
    )


def plan_from_pb(msg: pb.Plan) -> Plan:
    return _validated(
        Plan,
        steps=[step_from_pb(s) for s in msg.steps],
        planner=msg.planner,
        prompt_tokens=msg.prompt_tokens,
        completion_tokens=msg.completion_tokens,
        notes=msg.notes,
    )


def task_to_pb(task: TaskRecord) -> pb.Task:
    msg = pb.Task(
        id=task.id,
        instruction=task.instruction,
        status=task_status_to_pb(task.status),
        reason=task.reason,
        created_at=task.created_at,
        replans=task.replans,
    )
    if task.plan is not None:
        msg.plan.CopyFrom(plan_to_pb(task.plan))
    if task.finished_at is not None:
        msg.finished_at = task.finished_at
    return msg


def task_from_pb(msg: pb.Task) -> TaskRecord:
    return _validated(
        TaskRecord,
        id=msg.id,
        instruction=msg.instruction,
        status=task_status_from_pb(msg.status),
        plan=plan_from_pb(msg.plan) if msg.HasField("plan") else None,
        reason=msg.reason,
        created_at=msg.created_at,
        finished_at=msg.finished_at if msg.HasField("finished_at") else None,
        replans=msg.replans,
    )


def event_to_pb(event: TaskEvent) -> pb.TaskEvent:
    msg = pb.TaskEvent(
        task_id=event.task_id,
        seq=event.seq,
        ts=event.ts,
        kind=event_kind_to_pb(event.kind),
        status=task_status_to_pb(event.status),
        message=event.message,
    )
    if event.step is not None:
        msg.step.CopyFrom(step_to_pb(event.step))
    if event.plan is not None:
        msg.plan.CopyFrom(plan_to_pb(event.plan))
    return msg


def event_from_pb(msg: pb.TaskEvent) -> TaskEvent:
    return _validated(
        TaskEvent,
        task_id=msg.task_id,
        seq=msg.seq,
        ts=msg.ts,
        kind=event_kind_from_pb(msg.kind),
        status=task_status_from_pb(msg.status),
        step=step_from_pb(msg.step) if msg.HasField("step") else None,
        plan=plan_from_pb(msg.plan) if msg.HasField("plan") else None,
        message=msg.message,
    )


def card_to_pb(card: SkillCard) -> pb.SkillCard:
    return pb.SkillCard(
        name=card.name,
        description=card.description,
        version=card.version,
        embodiments=list(card.embodiments),
        parameters_json=dump_json(card.parameters),
        timeout_s=card.timeout_s,
        preconditions=list(card.preconditions),
        effects=list(card.effects),
        tags=list(card.tags),
    )


def card_from_pb(msg: pb.SkillCard) -> SkillCard:
    return _validated(
        SkillCard,
        name=msg.name,
        description=msg.description,
        version=msg.version,
        embodiments=list(msg.embodiments),
        parameters=_load_object(msg.parameters_json, "skill.parameters_json"),
        timeout_s=msg.timeout_s,
        preconditions=list(msg.preconditions),
        effects=list(msg.effects),
        tags=list(msg.tags),
    )


def robot_to_pb(robot: RobotInfo) -> pb.Robot:
    msg = pb.Robot(
        name=robot.name,
        embodiment=robot.embodiment,
        online=robot.online,
        skills=[card_to_pb(c) for c in robot.skills],
        state_json=dump_json(robot.state),
        profile_json=dump_json(robot.profile),
    )
    if robot.heartbeat_age_s is not None:
        msg.heartbeat_age_s = robot.heartbeat_age_s
    return msg


def robot_from_pb(msg: pb.Robot) -> RobotInfo:
    return _validated(
        RobotInfo,
        name=msg.name,
        embodiment=msg.embodiment,
        online=msg.online,
        skills=[card_from_pb(c) for c in msg.skills],
        state=_load_object(msg.state_json, "robot.state_json"),
        heartbeat_age_s=msg.heartbeat_age_s if msg.HasField("heartbeat_age_s") else None,
        profile=_load_object(msg.profile_json, "robot.profile_json"),
    )


def _validated(model: type, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConversionError(f"{model.__name__}.{where}: {first['msg']}") from exc
