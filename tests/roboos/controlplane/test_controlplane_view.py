"""The rich task view folds a real task's event stream into the picture the CLI shows."""

from __future__ import annotations

from rich.console import Console

from roboos.controlplane.client import ControlClient
from roboos.controlplane.view import TaskView, robot_state_summary, robots_table, tasks_table
from roboos.master.models import TaskStatus


def _render(renderable) -> str:
    console = Console(width=160, record=True, force_terminal=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_view_of_a_two_robot_task(cloud) -> None:
    with ControlClient(cloud.address) as client:
        task_id = client.submit("put the milk on the dining table and put the toy block in the bin")
        view = TaskView(task_id)
        snapshots = []
        for event in client.watch(task_id):
            view.apply(event)
            view.apply(event)  # a repeated event (same seq) changes nothing
            snapshots.append(_render(view))
        record = client.get_task(task_id)
        robots = client.robots()
        tasks = client.list_tasks()
    assert view.status == TaskStatus.succeeded == record.status
    assert "planning…" in snapshots[0]
    final = snapshots[-1]
    assert "✔ succeeded" in final and {s.robot for s in record.plan.steps} == {"arm1", "rover1"}
    for step in record.plan.steps:
        assert step.id in final and step.skill in final
    assert _render(TaskView.from_record(record)).count("✔ succeeded") == len(record.plan.steps) + 1
    assert task_id in _render(tasks_table(tasks))
    table = _render(robots_table(robots))
    assert "arm1" in table and "● online" in table


def test_failed_task_shows_its_reason(cloud) -> None:
    with ControlClient(cloud.address) as client:
        task_id = client.submit("teleport the sofa to mars")
        view = TaskView(task_id)
        for event in client.watch(task_id):
            view.apply(event)
        view.update_from_record(client.get_task(task_id))
    text = _render(view)
    assert view.status == TaskStatus.failed and "✘ failed" in text and "reason: planning failed" in text


def test_state_summary() -> None:
    assert robot_state_summary({}) == ""
    assert (
        robot_state_summary({"status": "busy", "location": "sink", "holding": "cup"})
        == "busy at sink holding cup"
    )
    assert robot_state_summary({"status": "idle", "pose": {"x": 1.0, "y": 2.5}}) == "idle (1.00, 2.50)"
