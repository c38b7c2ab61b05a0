"""Channel round-trip times sampled from the cloud channel's heartbeat RTT measurements.

``CloudChannel`` measures each robot's link RTT from heartbeat echoes (``RobotLink.rtt_s``, updated on
every echo). The sampler reads the links every ``interval_s`` and records a value each time it changed,
per robot, in a bounded ring; :meth:`RttSampler.histogram` bins them for the Channel view.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from typing import Any

# Histogram bin edges in milliseconds (log-spaced: loopback is ~0.1 ms, a WAN link ~100 ms).
BIN_EDGES_MS = (0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, math.inf)


class RttSampler:
    """Per-robot bounded RTT samples (seconds) from ``channel.links()``."""

    def __init__(self, channel: Any, *, interval_s: float = 0.5, keep: int = 2000) -> None:
        self.channel = channel
        self.interval_s = interval_s
        self.keep = keep
        self.samples: dict[str, deque[float]] = {}
        self._last: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="dashboard-rtt-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def sample_once(self) -> None:
        """Record every link whose RTT changed since the last look."""
        for robot, link in self.channel.links().items():
            rtt = getattr(link, "rtt_s", None)
            if rtt is None or self._last.get(robot) == rtt:
                continue
            self._last[robot] = rtt
            self.samples.setdefault(robot, deque(maxlen=self.keep)).append(float(rtt))

    async def _loop(self) -> None:
        while True:
            self.sample_once()
            await asyncio.sleep(self.interval_s)

    def histogram(self) -> dict[str, Any]:
        """Bins (ms) and counts per robot plus summary percentiles, ready for JSON."""
        edges = [e if math.isfinite(e) else None for e in BIN_EDGES_MS]
        robots = {}
        for robot, values in sorted(self.samples.items()):
            ms = sorted(v * 1000.0 for v in values)
            counts = [0] * (len(BIN_EDGES_MS) - 1)
            for v in ms:
                for i in range(len(counts)):
                    if BIN_EDGES_MS[i] <= v < BIN_EDGES_MS[i + 1]:
                        counts[i] += 1
                        break
            robots[robot] = {
                "count": len(ms),
                "counts": counts,
                "p50_ms": _pct(ms, 0.5),
                "p90_ms": _pct(ms, 0.9),
                "p99_ms": _pct(ms, 0.99),
                "max_ms": ms[-1] if ms else None,
            }
        return {"edges_ms": edges, "robots": robots}


def _pct(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return round(sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))], 4)
