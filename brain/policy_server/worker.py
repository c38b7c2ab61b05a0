"""Inference off the I/O loop: one worker thread owns the model and serves requests in batches.

Connection handlers ``await worker.submit(prepared)``; the worker thread takes whatever requests are
waiting (up to the policy's batch size, after a short gathering window), runs one ``infer_batch`` and
resolves each request's future on its event loop. Slow inference therefore never blocks the sockets, and
concurrent clients share batches instead of queueing behind each other one by one.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from roboos.brain.policies.base import Policy

log = logging.getLogger(__name__)


@dataclass
class _Request:
    prepared: Any
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class WorkerStats:
    requests: int = 0
    batches: int = 0
    errors: int = 0
    max_batch: int = 0


class InferenceWorker:
    """A thread that batches requests for one policy."""

    def __init__(
        self, policy: Policy, *, max_batch: int | None = None, gather_ms: float = 2.0, max_queue: int = 256
    ):
        self.policy = policy
        self.max_batch = max(1, max_batch or policy.max_batch_size)
        self.gather_s = gather_ms / 1000.0
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_queue)
        self.stats = WorkerStats()
        self._thread = threading.Thread(target=self._run, name="policy-inference", daemon=True)
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self.warmup_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopped.is_set()

    @property
    def ready(self) -> bool:
        """Alive and past the policy's warm-up (e.g. CUDA-graph capture)."""
        return self.alive and self._ready.is_set()

    def _warmup(self) -> None:
        warmup = getattr(self.policy, "warmup", None)
        if warmup is not None:
            try:
                warmup()
            except Exception as exc:  # noqa: BLE001 - serve anyway; the first request pays the cost
                self.warmup_error = f"{type(exc).__name__}: {exc}"
                log.warning("policy warm-up failed: %s", self.warmup_error)
        self._ready.set()

    async def submit(self, prepared: Any) -> dict[str, Any]:
        """Queue one prepared observation; resolves to its result (or raises the policy's error)."""
        loop = asyncio.get_running_loop()
        req = _Request(prepared, loop, loop.create_future())
        try:
            self._queue.put_nowait(req)
        except queue.Full:
            raise RuntimeError("the policy server is overloaded (request queue full); retry later") from None
        return await req.future

    def _collect(self, first: _Request) -> list[_Request]:
        batch = [first]
        deadline = time.perf_counter() + self.gather_s
        while len(batch) < self.max_batch:
            timeout = deadline - time.perf_counter()
            try:
                item = self._queue.get(timeout=max(0.0, timeout)) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._stopped.set()
                break
            batch.append(item)
        return batch

    def _run(self) -> None:
        self._warmup()  # in this thread: it owns the model (and its CUDA graphs) from here on
        while not self._stopped.is_set():
            first = self._queue.get()
            if first is None:
                break
            batch = [r for r in self._collect(first) if not r.future.cancelled()]
            if not batch:
                continue
            t0 = time.perf_counter()
            try:
                results = self.policy.infer_batch([r.prepared for r in batch])
                error = None
            except Exception as exc:  # reported to every request of the batch; the worker lives on
                log.exception("policy inference failed")
                results, error = [], exc
                self.stats.errors += 1
            infer_ms = (time.perf_counter() - t0) * 1e3
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.max_batch = max(self.stats.max_batch, len(batch))
            for i, req in enumerate(batch):
                if error is not None:
                    req.loop.call_soon_threadsafe(_settle, req.future, None, error)
                else:
                    result = dict(results[i])
                    result["policy_timing"] = {
                        "infer_ms": infer_ms,
                        "batch_size": len(batch),
                        "queue_ms": (t0 - req.queued_at) * 1e3,
                    }
                    req.loop.call_soon_threadsafe(_settle, req.future, result, None)
        # fail whatever is still queued
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.loop.call_soon_threadsafe(
                    _settle, item.future, None, RuntimeError("policy server stopped")
                )


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
