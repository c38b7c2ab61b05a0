"""Round trips between the master's models and the control-plane protobuf messages; bad wire input."""

from __future__ import annotations

from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field
from roboos.skills import get_spec, skill
from roboos.skills.card import SkillCard

from roboos.controlplane import convert
from roboos.controlplane.gen import control_pb2 as pb
from roboos.master.models import Plan, RobotInfo, Step, StepStatus, TaskEvent, TaskRecord, TaskStatus
from roboos.robot import Robot, RobotState


@skill(embodiments=["arm"], timeout=12.0)
def grasp(robot: Robot, object: str, force: Annotated[float, Field(ge=0, le=1)] = 0.5) -> dict:
    """Close the gripper on an object.

    Args:
        object: name of the object to grasp.
        force: grip force, 0..1.
    """
    return {"holding": object}


def _plan() -> Plan:
    return Plan(
        steps=[
            Step(
                id="s1",
                robot="arm1",
                skill="grasp",
                args={"object": "cup", "force": 1, "pose": [0.1, -2, 3]},
                status=StepStatus.succeeded,
                attempts=2,
                result={"effects": [{"kind": "holding", "n": 3}]},
                started_at=1700000000.25,
                finished_at=1700000001.5,
            ),
            Step(
                id="s2",
                robot="base1",
                skill="navigate",
                args={"place": "kitchen"},
                depends_on=["s1"],
                status=StepStatus.failed,
                attempts=1,
                error={"code": "timeout", "message": "too slow", "details": {}},
                result=None,
                started_at=1700000002.0,
            ),
            Step(
                id="s3",
                robot="base1",
                skill="say",
                args={"text": "héllo ✓"},
                depends_on=["s1", "s2"],
                result=[1, "two", 3.5, None, True],
            ),
        ],
        planner="offline-rules",
        prompt_tokens=17,
        completion_tokens=5,
        notes="two robots",
    )


def test_task_round_trip_keeps_types() -> None:
    task = TaskRecord(
        id="t-1",
        instruction="bring the cup",
        status=TaskStatus.running,
        plan=_plan(),
        reason="",
        created_at=1700000000.0,
        finished_at=None,
        replans=1,
    )
    back = convert.task_from_pb(pb.Task.FromString(convert.task_to_pb(task).SerializeToString()))
    assert back == task
    assert isinstance(back.plan.steps[0].args["force"], int)  # JSON keeps ints (Struct would not)


def test_task_without_plan_and_finished() -> None:
    task = TaskRecord(
        id="t2",
        instruction="x",
        status=TaskStatus.cancelled,
        reason="user asked",
        created_at=5.0,
        finished_at=6.0,
    )
    msg = convert.task_to_pb(task)
    assert not msg.HasField("plan") and msg.HasField("finished_at")
    assert convert.task_from_pb(msg) == task


@pytest.mark.parametrize("kind", ["status", "plan", "step", "log"])
def test_event_round_trip(kind: str) -> None:
    plan = _plan()
    event = TaskEvent(
        task_id="t-1",
        seq=4,
        ts=123.5,
        kind=kind,
        status=TaskStatus.running,
        step=plan.steps[1] if kind == "step" else None,
        plan=plan if kind == "plan" else None,
        message="replanning after s2 failed" if kind == "log" else "",
    )
    msg = convert.event_to_pb(event)
    assert msg.kind == getattr(pb, f"EVENT_KIND_{kind.upper()}")
    assert convert.event_from_pb(pb.TaskEvent.FromString(msg.SerializeToString())) == event


def test_robot_round_trip_with_a_real_skill_card() -> None:
    card = SkillCard.from_spec(get_spec(grasp))
    state = RobotState(
        robot="arm1", embodiment="arm", status="busy", location="table", joints=[0.0, 1.5], holding="cup"
    ).model_dump()
    info = RobotInfo(
        name="arm1",
        embodiment="arm",
        online=True,
        skills=[card],
        state=state,
        heartbeat_age_s=0.25,
        profile={"dof": 6, "cameras": ["wrist"]},
    )
    back = convert.robot_from_pb(pb.Robot.FromString(convert.robot_to_pb(info).SerializeToString()))
    assert back == info
    assert back.skills[0].parameters["properties"]["force"]["maximum"] == 1
    offline = RobotInfo(name="b", embodiment="mobile", online=False)
    assert convert.robot_from_pb(convert.robot_to_pb(offline)) == offline  # no heartbeat yet stays None


@pytest.mark.parametrize("status", list(TaskStatus))
def test_every_task_status_maps(status: TaskStatus) -> None:
    assert convert.task_status_from_pb(convert.task_status_to_pb(status)) is status


@pytest.mark.parametrize("status", list(StepStatus))
def test_every_step_status_maps(status: StepStatus) -> None:
    assert convert.step_status_from_pb(convert.step_status_to_pb(status)) is status


def test_bad_wire_values_raise_conversion_errors() -> None:
    with pytest.raises(convert.ConversionError, match="step.args_json: not valid JSON"):
        convert.step_from_pb(
            pb.Step(id="s", robot="r", skill="k", args_json="{oops", status=pb.STEP_STATUS_PENDING)
        )
    with pytest.raises(convert.ConversionError, match="expected a JSON object"):
        convert.step_from_pb(
            pb.Step(id="s", robot="r", skill="k", args_json="[1]", status=pb.STEP_STATUS_PENDING)
        )
    with pytest.raises(convert.ConversionError, match="unknown task status"):
        convert.task_from_pb(pb.Task(id="t", instruction="x"))  # UNSPECIFIED
    with pytest.raises(convert.ConversionError, match="unknown step status 99"):
        convert.step_status_from_pb(99)
    with pytest.raises(convert.ConversionError, match="Step.id"):
        convert.step_from_pb(pb.Step(id="", robot="r", skill="k", status=pb.STEP_STATUS_PENDING))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(args=st.dictionaries(st.text(max_size=8), json_values, max_size=5), result=json_values)
def test_step_json_fields_round_trip(args: dict, result: object) -> None:
    step = Step(id="s", robot="r", skill="k", args=args, result=result)
    assert convert.step_from_pb(pb.Step.FromString(convert.step_to_pb(step).SerializeToString())) == step
