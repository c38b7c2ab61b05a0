"""Configuration of the shared memory and the history log (the ``memory`` section of ``cloud.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryConfig(_Model):
    """What goes into the history log and how long it is kept."""

    enabled: bool = True
    path: str | None = None  # SQLite file of the history; null: memory.path (sqlite) or in-process (local)
    state_sample_s: float | None = Field(default=1.0, gt=0)  # one STATE per robot per interval; null = none
    max_entries: int | None = Field(default=1_000_000, gt=0)  # retention: oldest entries dropped beyond this
    max_age_days: float | None = Field(default=30.0, gt=0)  # retention: entries older than this dropped
    # retention of an in-process history (the local backend's): it lives in RAM, so it is kept smaller
    max_entries_in_process: int = Field(default=100_000, gt=0)
    prune_every: int = Field(default=5000, gt=0)  # appends between retention passes


class TaskRetentionConfig(_Model):
    """How long finished task records stay in the memory store (unfinished ones always stay). A task id
    whose record was dropped may be used again; its events follow the history's own retention."""

    max_finished: int | None = Field(default=100_000, gt=0)  # newest finished records kept; null = all
    max_age_days: float | None = Field(default=30.0, gt=0)  # finished longer ago than this: dropped


class MemoryConfig(_Model):
    """Where the cloud keeps its world model, task state and history."""

    # local: in-process only, nothing persists (the code default, so a Master built in code or in a test
    # never touches the disk); configs/cloud.yaml selects sqlite, the embedded default of a real cloud.
    backend: Literal["sqlite", "redis", "local"] = "local"
    path: str = "~/.roboos/cloud.db"  # SQLite file (WAL); ":memory:" for a throwaway store
    redis_url: str = "redis://127.0.0.1:6379/0"
    namespace: str = Field(default="roboos", pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # key prefix in Redis
    reset_world: bool = False  # re-seed objects/places/robots from the scene at start (fresh sim edges)
    recovery: Literal["resume", "fail"] = "resume"  # unfinished tasks found at start
    recovery_wait_s: float = Field(default=10.0, ge=0)  # how long a resumed task waits for its robots
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    tasks: TaskRetentionConfig = Field(default_factory=TaskRetentionConfig)
