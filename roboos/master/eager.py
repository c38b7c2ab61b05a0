"""Start a coroutine now, as Python 3.12's eager tasks do, on any asyncio loop.

``start_now(coro)`` runs ``coro`` synchronously up to its first real suspension and only then hands it
to a task. On the dispatch path this saves a loop turn per hop (the executor's step and its CALL): under
load a loop turn can be tens of milliseconds of other work queued ahead (measured with
``roboos bench load``). A coroutine that finishes without suspending costs no task at all.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def start_now(coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Future[T]:
    """Run ``coro`` until it first suspends; return a future of its result (a task named ``name`` if it
    suspended)."""
    loop = asyncio.get_running_loop()
    try:
        pending = coro.send(None)
    except StopIteration as stop:
        done: asyncio.Future[T] = loop.create_future()
        done.set_result(stop.value)
        return done
    except BaseException as exc:  # noqa: BLE001 - delivered through the future, as a task would
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(exc)
        return failed
    return loop.create_task(_rest(coro, pending), name=name)


async def _rest(coro: Coroutine[Any, Any, T], pending: Any) -> T:
    return await _forward(coro, pending)


@types.coroutine
def _forward(coro: Coroutine[Any, Any, T], pending: Any) -> Generator[Any, Any, T]:
    """Hand the task what ``coro`` waits on, and ``coro`` what the task sends or throws (cancellation)."""
    while True:
        try:
            try:
                value = yield pending
            except BaseException as exc:
                pending = coro.throw(exc)
            else:
                pending = coro.send(value)
        except StopIteration as stop:
            return stop.value
