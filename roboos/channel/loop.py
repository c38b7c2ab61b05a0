"""The event loop the channel runs fastest on: uvloop when it is installed, else asyncio's default.

The channel works on any asyncio loop; these helpers only pick one. ``ROBOOS_EVENT_LOOP=asyncio``
(or ``uvloop``) overrides the choice, e.g. to compare the two.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV_VAR = "ROBOOS_EVENT_LOOP"


def loop_name(prefer: str | None = None) -> str:
    """``"uvloop"`` when it is wanted (``prefer`` / ``$ROBOOS_EVENT_LOOP``, default yes) and importable."""
    want = (prefer or os.environ.get(ENV_VAR) or "auto").strip().lower()
    if want not in ("auto", "uvloop", "asyncio"):
        raise ValueError(f"{ENV_VAR} must be auto, uvloop or asyncio, not {want!r}")
    if want == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if want == "uvloop":
            raise RuntimeError("uvloop was asked for but is not installed (pip install uvloop)") from None
        return "asyncio"
    return "uvloop"


def new_event_loop(prefer: str | None = None) -> asyncio.AbstractEventLoop:
    """A new event loop of the preferred kind (see :func:`loop_name`)."""
    if loop_name(prefer) == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T], prefer: str | None = None) -> T:
    """Like :func:`asyncio.run`, on the preferred loop."""
    if hasattr(asyncio, "Runner"):  # Python 3.11+
        with asyncio.Runner(loop_factory=lambda: new_event_loop(prefer)) as runner:
            return runner.run(main)
    loop = new_event_loop(prefer)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
