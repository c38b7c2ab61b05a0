"""Diagnostic: ``roboos bench load`` with a memory census of the cloud every minute.

``python benchmarks/scripts/load_census.py SECONDS OUT.json`` runs :func:`roboos.bench.load.run_load` (500
robots, 2 processes) and, every 60 s, records glibc's heap (``mallinfo2``: in use, free, heap size over
all arenas), pymalloc's allocated blocks, SQLite's own memory, the RSS of the main ``[heap]``, of anonymous
mappings (thread arenas, pymalloc arenas, mmapped blocks) and of mapped files, and the 40 most common
object types. The census walks every object (a short stall each minute).
"""

from __future__ import annotations

import _sqlite3
import asyncio
import collections
import ctypes
import gc
import re
import sys
import time

import psutil

from roboos.bench import machine_info, utc_now, write_result
from roboos.bench.heap import glibc_heap
from roboos.bench.load import run_load
from roboos.channel.loop import run


def _rss_by_region() -> dict[str, float]:
    totals, current = {"heap": 0, "anon": 0, "file": 0}, "anon"
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split()
                name = parts[5] if len(parts) > 5 else ""
                current = "heap" if name == "[heap]" else ("anon" if not name else "file")
            elif line.startswith("Rss:"):
                totals[current] += int(line.split()[1])
    return {k: round(v / 1024, 2) for k, v in totals.items()}


async def main(seconds: float) -> dict:
    sqlite = ctypes.CDLL(_sqlite3.__file__)
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    rows: list[dict] = []

    async def census() -> None:
        start, at = time.monotonic(), 60.0
        while at < seconds:
            await asyncio.sleep(max(0.0, at - (time.monotonic() - start)))
            heap = glibc_heap()
            types = collections.Counter(type(o).__name__ for o in gc.get_objects())
            rows.append({"t": at, "heap_in_use_mb": heap and round(heap.in_use_mb, 2),
                         "heap_free_mb": heap and round(heap.free_mb, 2), "heap_mb": heap and round(heap.heap_mb, 2),
                         "pymalloc_blocks": sys.getallocatedblocks(),
                         "sqlite_mb": round(sqlite.sqlite3_memory_used() / 2**20, 2),
                         "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 2), **_rss_by_region(),
                         "types": dict(types.most_common(40))})
            print({k: v for k, v in rows[-1].items() if k != "types"}, flush=True)
            at += 60.0

    probe = asyncio.get_running_loop().create_task(census())
    result = await run_load(agents=500, processes=2, seconds=seconds)
    probe.cancel()
    result.update({"bench": "load-census", "command": " ".join(["python", *sys.argv]), "date": utc_now(),
                   "machine": machine_info(["pyzmq", "uvloop"]), "census": rows})
    return result


if __name__ == "__main__":
    write_result(sys.argv[2], run(main(float(sys.argv[1]))))
