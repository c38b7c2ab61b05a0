"""JSON views of the master for the dashboard API: robots, tasks, skills, history, channel."""

from __future__ import annotations

import time
from typing import Any

from roboos.master.models import StepStatus, TaskRecord


def robots_view(master: Any) -> list[dict[str, Any]]:
    """Every known robot with liveness, reported state, world entry, current subtask and link RTT."""
    world_robots = master.world.snapshot().get("robots", {})
    links = master.channel.links()
    running = _running_steps(master.list_tasks())
    out = []
    for info in master.list_robots():
        entry = world_robots.get(info.name, {})
        link = links.get(info.name)
        state = dict(info.state)
        out.append(
            {
                "name": info.name,
                "embodiment": info.embodiment,
                "online": info.online,
                "status": state.get("status")
                or entry.get("status")
                or ("idle" if info.online else "offline"),
                "location": state.get("location") or entry.get("location"),
                "pose": state.get("pose") or entry.get("pose"),
                "holding": state.get("holding", entry.get("holding")),
                "heartbeat_age_s": info.heartbeat_age_s,
                "rtt_ms": round(link.rtt_s * 1000.0, 3)
                if link is not None and link.rtt_s is not None
                else None,
                "current": running.get(info.name),
                "skills": [c.name for c in info.skills],
                "cameras": list(info.profile.get("cameras") or []),
                "state": state,
            }
        )
    return sorted(out, key=lambda r: r["name"])


def _running_steps(tasks: list[TaskRecord]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for task in tasks:
        if task.plan is None:
            continue
        for step in task.plan.steps:
            if step.status is StepStatus.running:
                out[step.robot] = {
                    "task": task.id,
                    "step": step.id,
                    "skill": step.skill,
                    "args": step.args,
                    "started_at": step.started_at,
                }
    return out


def task_summary(task: TaskRecord) -> dict[str, Any]:
    """One line of the task list."""
    steps = task.plan.steps if task.plan else []
    done = sum(1 for s in steps if s.status is StepStatus.succeeded)
    return {
        "id": task.id,
        "instruction": task.instruction,
        "status": task.status.value,
        "reason": task.reason,
        "created_at": task.created_at,
        "finished_at": task.finished_at,
        "replans": task.replans,
        "steps": len(steps),
        "steps_done": done,
    }


def tasks_view(master: Any) -> list[dict[str, Any]]:
    """All tasks, newest first."""
    return [task_summary(t) for t in sorted(master.list_tasks(), key=lambda t: t.created_at, reverse=True)]


def task_detail(master: Any, task_id: str) -> dict[str, Any]:
    """The full record (plan DAG with step states, errors, timing, tokens) plus the replan log."""
    record = master.get_task(task_id)
    out = record.model_dump(mode="json")
    out["summary"] = task_summary(record)
    out["now"] = time.time()
    return out


def skills_view(master: Any, store: Any = None) -> dict[str, Any]:
    """Connected robots' skill cards (one entry per skill, with the robots offering it) and the store."""
    by_name: dict[str, dict[str, Any]] = {}
    for info in master.list_robots():
        for card in info.skills:
            item = by_name.setdefault(
                card.name, {"card": card.model_dump(mode="json"), "robots": [], "online": []}
            )
            item["robots"].append(info.name)
            if info.online:
                item["online"].append(info.name)
    packages = []
    if store is not None:
        for rec in store.list():
            packages.append(
                {
                    "name": rec.name,
                    "version": rec.version,
                    "size": rec.size,
                    "published_at": rec.published_at,
                    "description": getattr(rec.manifest, "description", ""),
                    "skills": [c.model_dump(mode="json") for c in rec.cards],
                }
            )
    return {
        "connected": [by_name[k] for k in sorted(by_name)],
        "store": packages,
        "store_configured": store is not None,
    }


def history_view(history: Any, task_id: str, limit: int = 2000) -> list[dict[str, Any]]:
    """A task's history entries in order (``[]`` without a history log)."""
    if history is None:
        return []
    return [e.as_dict() for e in history.query(task=task_id, limit=limit)]


def channel_view(master: Any, sampler: Any) -> dict[str, Any]:
    """Link table, channel counters and the RTT histogram."""
    links = []
    for robot, link in sorted(master.channel.links().items()):
        links.append(
            {
                "robot": robot,
                "connected": link.connected,
                "age_s": round(link.age_s, 3),
                "rtt_ms": round(link.rtt_s * 1000.0, 3) if link.rtt_s is not None else None,
                "registrations": link.registrations,
                "registered_at": link.registered_at,
            }
        )
    stats = master.channel.stats.as_dict() if hasattr(master.channel, "stats") else {}
    return {"endpoint": master.channel.endpoint, "links": links, "stats": stats, "rtt": sampler.histogram()}
