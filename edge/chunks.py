"""Action-chunk execution on the edge: run chunks at the control rate, fetch the next one early, blend.

A VLA policy returns a chunk of H future actions per request. :class:`ActionChunkBroker` executes one
action per control tick and, while the current chunk still has enough actions left to cover the
expected inference latency, already asks the policy for the next chunk (asynchronous inference). A chunk
requested at tick ``s`` holds the actions for ticks ``s, s+1, …``; when chunks overlap, the action for a
tick comes from :class:`ChunkBlender`: ``latest`` (the newest chunk that covers the tick) or ``average``
(a weighted average of every covering chunk, newer chunks weighted ``exp(newer_weight · k)`` higher).
If no chunk covers a tick (the policy was too slow) the last action is held and the tick is counted as
starved.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class BlendMode(str, enum.Enum):
    LATEST = "latest"
    AVERAGE = "average"


@dataclass
class Chunk:
    start: int  # control tick of the chunk's first action
    actions: np.ndarray  # (H, D)
    seq: int  # arrival order

    @property
    def end(self) -> int:
        return self.start + self.actions.shape[0]


class ChunkBlender:
    """Holds the chunks that may still cover future ticks and answers the action for a tick."""

    def __init__(self, mode: BlendMode | str = BlendMode.AVERAGE, newer_weight: float = 1.0, keep: int = 4):
        self.mode = BlendMode(mode)
        self.newer_weight = newer_weight
        self.keep = keep
        self.chunks: list[Chunk] = []
        self._seq = 0

    def add(self, start: int, actions: np.ndarray) -> None:
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[0] == 0:
            raise ValueError(f"an action chunk must be (H, D) with H > 0, got shape {actions.shape}")
        if self.chunks and actions.shape[1] != self.chunks[-1].actions.shape[1]:
            raise ValueError("action width changed between chunks")
        self.chunks.append(Chunk(start, actions, self._seq))
        self._seq += 1
        self.chunks = self.chunks[-self.keep :]

    def remaining(self, tick: int) -> int:
        """Ticks from ``tick`` on that the newest chunk still covers."""
        return max(0, self.chunks[-1].end - tick) if self.chunks else 0

    def action(self, tick: int) -> np.ndarray | None:
        """The blended action for ``tick``, or ``None`` when no chunk covers it."""
        self.chunks = [c for c in self.chunks if c.end > tick]
        covering = [c for c in self.chunks if c.start <= tick]
        if not covering:
            return None
        if self.mode == BlendMode.LATEST or len(covering) == 1:
            c = covering[-1]
            return c.actions[tick - c.start]
        newest = covering[-1].seq
        weights = np.array([math.exp(-self.newer_weight * (newest - c.seq)) for c in covering])
        stacked = np.stack([c.actions[tick - c.start] for c in covering])
        return (weights[:, None] * stacked).sum(axis=0) / weights.sum()


@dataclass
class BrokerStats:
    ticks: int = 0
    chunks: int = 0
    requests: int = 0
    starved_ticks: int = 0
    failed_requests: int = 0
    latency_s: list[float] = field(default_factory=list)
    overruns: int = 0  # ticks whose work took longer than the period
    last_result: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latency_s)
        return {
            "ticks": self.ticks,
            "chunks": self.chunks,
            "requests": self.requests,
            "starved_ticks": self.starved_ticks,
            "failed_requests": self.failed_requests,
            "overruns": self.overruns,
            "latency_ms_p50": round(lat[len(lat) // 2] * 1e3, 2) if lat else None,
            "latency_ms_max": round(lat[-1] * 1e3, 2) if lat else None,
        }


InferFn = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class ActionChunkBroker:
    """Drives a robot from a chunking policy at a fixed control rate.

    Args:
        infer: async ``observation -> {"actions": (H, D), ...}`` (e.g. ``PolicyClient.infer``).
        observe: returns the current observation (sync or async).
        act: applies one action (sync or async).
        control_hz: control rate.
        blend: ``latest`` or ``average``.
        margin_ticks: request the next chunk when the newest one covers fewer than
            ``latency_ticks + margin_ticks`` further ticks (latency is measured as it goes).
    """

    def __init__(
        self,
        infer: InferFn,
        observe: Callable[[], Any],
        act: Callable[[np.ndarray], Any],
        *,
        control_hz: float = 50.0,
        blend: BlendMode | str = BlendMode.AVERAGE,
        newer_weight: float = 1.0,
        margin_ticks: int = 2,
        initial_latency_s: float = 0.1,
        request_timeout_s: float = 30.0,
    ):
        if control_hz <= 0:
            raise ValueError("control_hz must be positive")
        self.infer, self.observe, self.act = infer, observe, act
        self.period = 1.0 / control_hz
        self.blender = ChunkBlender(blend, newer_weight)
        self.margin = margin_ticks
        self.latency_estimate = initial_latency_s
        self.timeout = request_timeout_s
        self.stats = BrokerStats()
        self._inflight: asyncio.Task | None = None
        self._last_action: np.ndarray | None = None

    def _lead_ticks(self) -> int:
        return math.ceil(self.latency_estimate / self.period) + self.margin

    async def _request(self, tick: int) -> None:
        obs = await _maybe_await(self.observe())
        t0 = time.perf_counter()
        self.stats.requests += 1
        try:
            result = await asyncio.wait_for(self.infer(obs), self.timeout)
        except Exception:
            self.stats.failed_requests += 1
            raise
        dt = time.perf_counter() - t0
        self.stats.latency_s.append(dt)
        self.latency_estimate = 0.7 * self.latency_estimate + 0.3 * dt
        self.blender.add(tick, result["actions"])
        self.stats.chunks += 1
        self.stats.last_result = {k: v for k, v in result.items() if k != "actions"}

    def _maybe_request(self, tick: int) -> None:
        if self._inflight is not None and not self._inflight.done():
            return
        if self._inflight is not None and self._inflight.exception() is not None:
            raise self._inflight.exception()  # surface the policy's error to the caller
        if self.blender.remaining(tick) <= self._lead_ticks():
            self._inflight = asyncio.create_task(self._request(tick))

    async def run(self, max_ticks: int, should_stop: Callable[[], bool] | None = None) -> BrokerStats:
        """Execute up to ``max_ticks`` control ticks (stops early when ``should_stop()`` is true)."""
        # the first chunk is fetched before the clock starts, so tick 0 has an action
        await self._request(0)
        next_time = time.perf_counter()
        try:
            for tick in range(max_ticks):
                if should_stop is not None and should_stop():
                    break
                self._maybe_request(tick)
                action = self.blender.action(tick)
                if action is None:
                    self.stats.starved_ticks += 1
                    action = self._last_action
                if action is not None:
                    await _maybe_await(self.act(action))
                    self._last_action = action
                self.stats.ticks += 1
                next_time += self.period
                delay = next_time - time.perf_counter()
                if delay < 0:
                    self.stats.overruns += 1
                    next_time = time.perf_counter()
                await asyncio.sleep(max(0.0, delay))
        finally:
            if self._inflight is not None and not self._inflight.done():
                self._inflight.cancel()
                try:
                    await self._inflight
                except (asyncio.CancelledError, Exception):
                    pass
        return self.stats
