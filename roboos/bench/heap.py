"""glibc's heap as the benchmarks read it: ``mallinfo2()`` summed over all arenas (Linux/glibc only)."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import NamedTuple


class HeapUsage(NamedTuple):
    in_use_mb: float  # allocated and not freed
    free_mb: float  # freed, still held by the allocator (resident once touched)
    heap_mb: float  # obtained from the system for the arenas (mmapped large blocks excluded)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


@functools.cache
def _mallinfo2() -> Callable[[], _MallInfo2] | None:
    try:
        fn = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    return fn


def glibc_heap() -> HeapUsage | None:
    """The process's glibc heap in MB; ``None`` off glibc (or glibc < 2.33)."""
    fn = _mallinfo2()
    if fn is None:
        return None
    info = fn()
    return HeapUsage(info.uordblks / 2**20, info.fordblks / 2**20, info.arena / 2**20)
