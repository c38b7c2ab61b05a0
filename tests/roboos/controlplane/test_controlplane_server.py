"""The control plane over a real grpc.aio server on loopback, in front of a real Master with sim robots."""

from __future__ import annotations

import time

import grpc
import pytest

from roboos.controlplane.client import ControlClient
from roboos.controlplane.errors import (
    ControlPlaneConfigError,
    ControlPlaneUnavailable,
    InvalidRequest,
    TaskNotFound,
)
from roboos.controlplane.gen import control_pb2 as pb
from roboos.controlplane.gen import control_pb2_grpc as pb_grpc
from roboos.controlplane.server import start_control_plane
from roboos.master.models import StepStatus, TaskStatus


def _wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def test_submit_and_watch_a_task_to_the_end(cloud) -> None:
    with ControlClient(cloud.address) as client:
        task_id = client.submit("put the red cup on the dining table", task_id="cp-watch-1")
        assert task_id == "cp-watch-1"
        events = list(client.watch(task_id))  # the stream ends by itself when the task ends
        record = client.get_task(task_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    kinds = {e.kind for e in events}
    assert {"status", "plan", "step"} <= kinds
    assert events[-1].status == TaskStatus.succeeded and events[-1].status.terminal
    plan_event = next(e for e in events if e.kind == "plan")
    assert plan_event.plan is not None and plan_event.plan.steps
    step_events = [e for e in events if e.kind == "step"]
    assert {e.step.status for e in step_events} >= {StepStatus.running, StepStatus.succeeded}
    assert record.status == TaskStatus.succeeded and record.finished_at is not None
    assert all(step.status == StepStatus.succeeded for step in record.plan.steps)


def test_watching_a_finished_task_replays_its_events(cloud) -> None:
    with ControlClient(cloud.address) as client:
        task_id = client.submit("put the apple on the shelf")
        first = list(client.watch(task_id))
        again = list(client.watch(task_id))
    assert first == again and again[-1].status.terminal


def test_list_tasks_newest_first_and_limit(cloud) -> None:
    with ControlClient(cloud.address) as client:
        a = client.submit("go to the dock")
        b = client.submit("go to the sink")
        for task_id in (a, b):
            assert list(client.watch(task_id))[-1].status.terminal
        listed = [t.id for t in client.list_tasks()]
        assert listed.index(b) < listed.index(a)
        assert len(client.list_tasks(limit=1)) == 1
        with pytest.raises(InvalidRequest, match="limit"):
            client.list_tasks(limit=-1)


def test_list_robots_shows_both_sim_robots(cloud) -> None:
    with ControlClient(cloud.address) as client:
        robots = {r.name: r for r in client.robots()}
    assert set(robots) == {"arm1", "rover1"}
    assert robots["arm1"].embodiment != robots["rover1"].embodiment
    for robot in robots.values():
        assert robot.online and robot.skills and robot.state.get("robot") == robot.name
        assert robot.heartbeat_age_s is not None and robot.heartbeat_age_s < 5
        assert all(card.parameters.get("type") == "object" for card in robot.skills)


@pytest.mark.parametrize(
    ("method", "request_", "code"),
    [
        ("SubmitTask", pb.SubmitTaskRequest(instruction="   "), grpc.StatusCode.INVALID_ARGUMENT),
        ("SubmitTask", pb.SubmitTaskRequest(instruction="x" * 4001), grpc.StatusCode.INVALID_ARGUMENT),
        (
            "SubmitTask",
            pb.SubmitTaskRequest(instruction="go to the dock", task_id="bad id/../"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ("GetTask", pb.GetTaskRequest(task_id="no-such-task"), grpc.StatusCode.NOT_FOUND),
        ("GetTask", pb.GetTaskRequest(task_id=""), grpc.StatusCode.INVALID_ARGUMENT),
        ("CancelTask", pb.CancelTaskRequest(task_id="no-such-task"), grpc.StatusCode.NOT_FOUND),
        ("ListTasks", pb.ListTasksRequest(limit=-3), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_bad_input_gets_clear_status_codes(cloud, method: str, request_, code: grpc.StatusCode) -> None:
    with grpc.insecure_channel(cloud.address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            getattr(pb_grpc.RoboOSStub(channel), method)(request_, timeout=5)
    assert info.value.code() == code
    assert info.value.details()


def test_watch_of_unknown_task_is_not_found(cloud) -> None:
    with grpc.insecure_channel(cloud.address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            list(pb_grpc.RoboOSStub(channel).WatchTask(pb.WatchTaskRequest(task_id="ghost"), timeout=5))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and "ghost" in info.value.details()
    with ControlClient(cloud.address) as client, pytest.raises(TaskNotFound, match="ghost"):
        list(client.watch("ghost"))


def test_client_errors_are_typed(cloud) -> None:
    with ControlClient(cloud.address) as client:
        with pytest.raises(InvalidRequest, match="empty"):
            client.submit("")
        client.submit("go to the bin", task_id="cp-dup")
        with pytest.raises(InvalidRequest, match="already used"):
            client.submit("go to the bin", task_id="cp-dup")
        with pytest.raises(TaskNotFound, match="nope"):
            client.get_task("nope")
        later = client.submit("go to the shelf")  # the server keeps serving after bad requests
        for task_id in ("cp-dup", later):
            assert list(client.watch(task_id))[-1].status.terminal


def test_cancel_a_running_task_and_its_watch_ends(cloud) -> None:
    cloud.set_time_scale(2.0)  # slow motions: the task is still running when the cancel arrives
    try:
        with ControlClient(cloud.address) as client:
            task_id = client.submit(
                "go to the fridge"
            )  # navigation only: a cancel leaves nothing in the gripper
            events = client.watch(task_id)
            for event in events:  # wait until a step runs
                if event.kind == "step" and event.step.status == StepStatus.running:
                    break
            outcome = client.cancel(task_id)
            rest = list(events)
            assert outcome.cancelled and outcome.status == TaskStatus.cancelled, client.get_task(
                task_id
            ).reason
            assert rest and rest[-1].status == TaskStatus.cancelled
            again = client.cancel(task_id)
            assert not again.cancelled and again.status == TaskStatus.cancelled
            assert client.get_task(task_id).status == TaskStatus.cancelled
    finally:
        cloud.set_time_scale(0.0)


def test_watch_stream_ends_when_the_client_goes_away(cloud) -> None:
    servicer = cloud.control.servicer
    cloud.set_time_scale(2.0)
    try:
        with ControlClient(cloud.address) as client:
            task_id = client.submit("go to the coffee table")
            events = client.watch(task_id)
            assert next(events).seq == 1
            _wait_until(lambda: servicer.active_watches == 1)
            events.close()  # cancels the RPC: the server-side stream must finish and close Master.watch
            _wait_until(lambda: servicer.active_watches == 0)
            client.cancel(task_id)
    finally:
        cloud.set_time_scale(0.0)


def test_refuses_to_bind_beyond_loopback_without_token(cloud) -> None:
    for bind in ("0.0.0.0:0", "[::]:0", "192.0.2.10:0", "example.org:7701"):
        with pytest.raises(ControlPlaneConfigError, match="without a token"):
            cloud.run(start_control_plane(cloud.master, bind))
    with pytest.raises(ControlPlaneConfigError, match="HOST:PORT"):
        cloud.run(start_control_plane(cloud.master, "no-port"))


def test_port_in_use_is_a_clear_error(cloud) -> None:
    with pytest.raises(ControlPlaneConfigError, match="cannot listen"):
        cloud.run(start_control_plane(cloud.master, cloud.address))


def test_no_server_gives_unavailable() -> None:
    with (
        ControlClient("127.0.0.1:1", timeout=3) as client,
        pytest.raises(ControlPlaneUnavailable, match="roboos cloud"),
    ):
        client.robots()
