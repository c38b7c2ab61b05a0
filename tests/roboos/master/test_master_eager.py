"""``start_now``: a coroutine runs at once up to its first suspension, then continues as a task."""

from __future__ import annotations

import asyncio

import pytest

from roboos.master.eager import start_now


def test_runs_synchronously_until_it_suspends_then_finishes_as_a_task() -> None:
    async def main() -> None:
        trace: list[str] = []

        async def work() -> int:
            trace.append("before")
            await asyncio.sleep(0.01)
            trace.append("after")
            return 7

        fut = start_now(work())
        assert trace == ["before"], "the part before the first await ran inside start_now"
        assert await fut == 7 and trace == ["before", "after"]

        async def quick() -> str:
            return "done"

        done = start_now(quick())
        assert done.done() and done.result() == "done"

        async def broken() -> None:
            raise ValueError("bad")

        with pytest.raises(ValueError, match="bad"):
            await start_now(broken())

    asyncio.run(main())


def test_cancellation_reaches_the_coroutine() -> None:
    async def main() -> None:
        cleaned: list[bool] = []

        async def waits() -> None:
            try:
                await asyncio.sleep(10)
            finally:
                cleaned.append(True)

        fut = start_now(waits())
        await asyncio.sleep(0)
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fut
        assert cleaned == [True]

    asyncio.run(main())
