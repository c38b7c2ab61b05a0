"""The history log against SQLite and Redis: appends, random access, filters, blobs, retention."""

from __future__ import annotations

import time

from roboos.memory import HistoryLog, Record


def fill(history: HistoryLog) -> list[int]:
    t0 = 1_700_000_000.0
    records = []
    for i in range(60):
        records.append(Record(kind="state" if i % 3 else "step", task=f"t{i % 2}" if i % 3 == 0 else "",
                              robot=("arm1", "rover1")[i % 2], ts=t0 + i, data={"i": i}))
    return history.append_many(records)


def test_append_and_random_access(history: HistoryLog) -> None:
    seqs = fill(history)
    assert seqs == list(range(1, 61)) and history.last_seq() == 60 and history.count() == 60
    entry = history.get(31)
    assert (entry.seq, entry.data, entry.robot, entry.kind) == (31, {"i": 30}, "arm1", "step")
    assert history.get(999) is None
    assert history.append("task", {"instruction": "x"}, task="t9") == 61


def test_queries_by_task_robot_kind_time_and_sequence(history: HistoryLog) -> None:
    fill(history)
    t0 = 1_700_000_000.0
    by_task = history.query(task="t0")
    assert [e.data["i"] for e in by_task] == list(range(0, 60, 6))
    assert all(e.robot == "arm1" for e in history.query(robot="arm1"))
    assert len(history.query(robot="rover1", kind="state")) == 20
    window = history.query(start_ts=t0 + 10, end_ts=t0 + 20)
    assert [e.data["i"] for e in window] == list(range(10, 20))
    assert [e.seq for e in history.query(after_seq=55)] == [56, 57, 58, 59, 60]
    assert [e.seq for e in history.query(limit=3, newest_first=True)] == [60, 59, 58]
    assert [e.data["i"] for e in history.query(robot="arm1", kind="step", newest_first=True, limit=2)] == [54, 48]
    assert [e.data["i"] for e in history.query(robot="arm1", start_ts=t0 + 50)] == [50, 52, 54, 56, 58]
    assert history.query(task="nope") == [] and history.query(limit=0) == []


def test_blobs_are_stored_once_and_referenced_by_hash(history: HistoryLog) -> None:
    image = bytes(range(256)) * 600  # a 150 KB "camera frame"
    a = history.append("observation", {"shape": [224, 224, 3]}, robot="arm1", blobs={"rgb": image})
    b = history.append("observation", {"shape": [224, 224, 3]}, robot="arm1", blobs={"rgb": image})
    digest = history.get(a).blobs["rgb"]
    assert history.get(b).blobs["rgb"] == digest and len(digest) == 64
    assert history.get_blob(digest) == image
    assert history.get_blob("0" * 64) is None


def test_retention_by_count_and_age_drops_oldest_and_orphan_blobs(history: HistoryLog) -> None:
    old = time.time() - 3600
    history.append("observation", {}, ts=old, blobs={"img": b"old-frame"})
    first = history.get(1).blobs["img"]
    history.append_many([Record(kind="state", ts=old + i) for i in range(9)])
    history.append_many([Record(kind="state") for _ in range(10)])
    assert history.prune(max_age_s=60) == 10
    assert history.count() == 10 and history.get(1) is None and history.get_blob(first) is None
    assert history.prune(max_entries=4) == 6
    assert [e.seq for e in history.query()] == [17, 18, 19, 20]
    assert history.last_seq() == 20, "sequence numbers are never reused"
    assert history.append("x") == 21
