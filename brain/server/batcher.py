"""Request queue + dynamic batching in front of one :class:`BrainRuntime`.

HTTP handlers (asyncio) submit jobs; one worker thread takes the oldest job, waits up to
``batch_window_s`` for more (up to ``max_batch_size``), and runs them as one batch. Streamed text deltas and
the final result travel back to each job's asyncio queue. The event loop never blocks on the model, a full
queue is refused at once, and jobs that waited past their deadline or whose client went away are dropped
before they reach the GPU.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field

from roboos.brain.robobrain.runtime import BrainRuntime, GenerationRequest, GenerationResult


class QueueFullError(RuntimeError):
    """The server is at its queue limit."""

    code = "queue_full"


class RequestTimeoutError(TimeoutError):
    """A request waited or ran longer than its timeout."""

    code = "timeout"


@dataclass
class Job:
    """One submitted request and the channel its events go back on."""

    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue
    deadline: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.monotonic)

    def send(self, kind: str, payload: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, payload))
        except RuntimeError:  # the loop closed (server shutting down)
            self.cancelled.set()


class Batcher:
    """Owns the worker thread that feeds batches to the runtime."""

    def __init__(self, runtime: BrainRuntime, *, max_batch_size: int = 8, batch_window_s: float = 0.01,
                 max_queue: int = 256) -> None:
        self.runtime = runtime
        self.max_batch_size = max(1, min(max_batch_size, runtime.max_batch_size))
        self.batch_window_s = batch_window_s
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._work, name="brain-batcher", daemon=True)
        self._stopped = threading.Event()
        self.stats = {"batches": 0, "requests": 0, "max_batch": 0, "dropped": 0}
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def submit(self, request: GenerationRequest, timeout_s: float) -> Job:
        """Queue a request; returns its job (read ``job.events``). Raises :class:`QueueFullError`."""
        job = Job(request, asyncio.get_running_loop(), asyncio.Queue(), time.monotonic() + timeout_s)
        try:
            self._queue.put_nowait(job)
        except queue.Full as exc:
            raise QueueFullError("the brain server is busy: request queue is full, retry later") from exc
        return job

    def close(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    # ------------------------------------------------------------------------------------------ worker
    def _take_batch(self) -> list[Job]:
        first = self._queue.get()
        if first is None:
            return []
        batch = [first]
        end = time.monotonic() + self.batch_window_s
        while len(batch) < self.max_batch_size:
            remaining = end - time.monotonic()
            try:
                job = self._queue.get(timeout=max(remaining, 0.0)) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._stopped.set()
                break
            batch.append(job)
        return batch

    def _live(self, batch: list[Job]) -> list[Job]:
        now = time.monotonic()
        live = []
        for job in batch:
            if job.cancelled.is_set():
                self.stats["dropped"] += 1
            elif now > job.deadline:
                self.stats["dropped"] += 1
                job.send("error", RequestTimeoutError("request timed out while waiting in the queue"))
            else:
                live.append(job)
        return live

    def _work(self) -> None:
        while not self._stopped.is_set():
            batch = self._live(self._take_batch())
            if not batch:
                continue
            self.stats["batches"] += 1
            self.stats["requests"] += len(batch)
            self.stats["max_batch"] = max(self.stats["max_batch"], len(batch))

            def on_delta(row: int, reasoning: str, content: str, jobs=batch) -> None:
                jobs[row].send("delta", (reasoning, content))

            def cancelled(row: int, jobs=batch) -> bool:
                return jobs[row].cancelled.is_set() or time.monotonic() > jobs[row].deadline

            try:
                results: list[GenerationResult] = self.runtime.run_batch([j.request for j in batch], on_delta, cancelled)
            except Exception as exc:  # reported to every caller of this batch; the worker keeps serving
                for job in batch:
                    job.send("error", exc)
                continue
            for job, result in zip(batch, results):
                if time.monotonic() > job.deadline and not job.cancelled.is_set():
                    job.send("error", RequestTimeoutError("generation exceeded the request timeout"))
                else:
                    job.send("done", result)
