"""The same suite against every memory backend: merges, compare-and-set, per-robot keys under concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from roboos.memory import Change, MemoryBackend, MemoryConfig, VersionConflict, open_memory


def test_apply_merges_attributes_atomically_and_versions_grow(memory: MemoryBackend) -> None:
    versions = memory.apply([Change("object", "apple", "location", "kitchen_counter"),
                             Change("object", "apple", "kind", "fruit"),
                             Change("place", "fridge", "open", False)])
    assert versions == {("object", "apple"): 1, ("place", "fridge"): 1}
    memory.apply([Change("object", "apple", "location", "robot:rover1")])
    entry = memory.get("object", "apple")
    assert entry.value == {"location": "robot:rover1", "kind": "fruit"} and entry.version == 2
    assert entry.updated_at > 0
    assert memory.values("place") == {"fridge": {"open": False}}
    assert memory.get("object", "pear") is None
    with pytest.raises(ValueError, match="unknown memory kind 'planet'"):
        memory.apply([Change("planet", "mars", "x", 1)])
    assert memory.get("object", "apple").version == 2, "a rejected batch changes nothing"


def test_values_round_trip_json_types(memory: MemoryBackend) -> None:
    value = {"reach": [], "pose": {"x": 1.5, "y": -2.0}, "holding": None, "open": True, "tags": ["a", "b"],
             "name": "tasse à café"}
    memory.put("robot", "arm1", value)
    assert memory.get("robot", "arm1").value == value
    assert set(memory.all("robot")) == {"arm1"}


def test_compare_and_set(memory: MemoryBackend) -> None:
    assert memory.put("task", "t1", {"status": "pending"}, expect_version=0) == 1
    with pytest.raises(VersionConflict) as info:
        memory.put("task", "t1", {"status": "running"}, expect_version=0)
    assert info.value.actual == 1
    assert memory.put("task", "t1", {"status": "running"}, expect_version=1) == 2
    assert memory.get("task", "t1").value == {"status": "running"}, "put replaces the whole value"
    assert memory.put("task", "t1", {"status": "done"}) == 3, "no expectation: unconditional"
    assert memory.delete("task", "t1") and not memory.delete("task", "t1")
    memory.apply([Change("meta", "x", "a", 1), Change("object", "o", "a", 1)])
    memory.clear(["meta"])
    assert memory.all("meta") == {} and set(memory.all("object")) == {"o"}


def test_many_robots_update_concurrently_without_losing_writes(mem_config: MemoryConfig) -> None:
    robots, updates = 16, 20
    stores = [open_memory(mem_config) for _ in range(4)] if mem_config.backend != "local" else [open_memory(mem_config)] * 4
    barrier = threading.Barrier(robots)

    def robot(i: int) -> None:
        store = stores[i % len(stores)]  # several connections (several processes' worth) at once
        barrier.wait()
        for n in range(updates):
            store.apply([Change("robot", f"r{i}", "pose", {"x": n}), Change("robot", f"r{i}", "status", "busy")])
            store.update("meta", "counter", lambda v: {"n": v.get("n", 0) + 1})  # shared key: CAS

    with ThreadPoolExecutor(robots) as pool:
        list(pool.map(robot, range(robots)))
    everything = stores[0].all("robot")
    assert len(everything) == robots
    assert all(e.value == {"pose": {"x": updates - 1}, "status": "busy"} and e.version == updates
               for e in everything.values()), "each robot has its own key: no write lost"
    assert stores[0].get("meta", "counter").value == {"n": robots * updates}, "CAS retries lose no increment"
    for store in set(map(id, stores)):
        next(s for s in stores if id(s) == store).close()
