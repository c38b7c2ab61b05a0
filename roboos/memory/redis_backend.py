"""Redis backends: one memory and one history shared by several cloud processes and hosts.

Entities are hashes (one field per attribute, JSON values, plus ``__v`` version and ``__t`` update time),
so attribute merges need no read and run in one ``MULTI``; compare-and-set runs as a Lua script. History
entries are appended by a Lua script that takes the sequence number and writes the indexes (sorted sets
by sequence, time, task, robot and kind) atomically; blobs are ``SET NX`` by SHA-256 with a reference count.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from roboos.memory.base import (
    KINDS,
    Change,
    Entry,
    HistoryEntry,
    HistoryLog,
    MemoryBackend,
    MemoryStoreError,
    Record,
    VersionConflict,
    blob_hash,
    check_kind,
    dumps,
    group_changes,
)

_PUT = """
local v = tonumber(redis.call('HGET', KEYS[1], '__v') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= v then return {-1, v} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '__v', v + 1, '__t', ARGV[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SADD', KEYS[2], ARGV[3])
return {1, v + 1}
"""

# KEYS: seq counter, entries hash, seq index, ts index; ARGV: prefix, then per record 7 fields + blob pairs
_APPEND = """
local prefix = ARGV[1]
local out = {}
local i = 2
while i <= #ARGV do
  local ts, kind, task, robot, data, blobs, nblobs = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5], tonumber(ARGV[i+6])
  i = i + 7
  for b = 1, nblobs do
    local digest, payload = ARGV[i], ARGV[i+1]
    redis.call('SET', prefix .. 'b:' .. digest, payload, 'NX')
    redis.call('HINCRBY', prefix .. 'b:refs', digest, 1)
    i = i + 2
  end
  local seq = redis.call('INCR', KEYS[1])
  redis.call('HSET', KEYS[2], seq, cjson.encode({ts, kind, task, robot, data, blobs}))
  redis.call('ZADD', KEYS[3], seq, seq)
  redis.call('ZADD', KEYS[4], ts, seq)
  redis.call('ZADD', prefix .. 'kind:' .. kind, seq, seq)
  if task ~= '' then redis.call('ZADD', prefix .. 'task:' .. task, seq, seq) end
  if robot ~= '' then redis.call('ZADD', prefix .. 'robot:' .. robot, seq, seq) end
  table.insert(out, seq)
end
return out
"""


def _client(url: str) -> Any:
    try:
        import redis
    except ImportError as exc:  # the roboos[memory] extra
        raise MemoryStoreError("the Redis backend needs the 'redis' package: pip install 'roboos[memory]'") from exc
    client = redis.Redis.from_url(url, decode_responses=False, socket_timeout=10, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise MemoryStoreError(f"cannot reach Redis at {url}: {exc}") from None
    return client


class RedisMemory(MemoryBackend):
    """Entities as Redis hashes under ``<namespace>:e:<kind>:<name>``."""

    name = "redis"

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", namespace: str = "roboos") -> None:
        self.url, self.ns = url, namespace
        self.r = _client(url)
        self._put = self.r.register_script(_PUT)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.ns}:e:{check_kind(kind)}:{name}"

    def _index(self, kind: str) -> str:
        return f"{self.ns}:i:{kind}"

    def get(self, kind: str, name: str) -> Entry | None:
        return _decode_entity(kind, name, self.r.hgetall(self._key(kind, name)))

    def all(self, kind: str) -> dict[str, Entry]:
        names = sorted(n.decode() for n in self.r.smembers(self._index(check_kind(kind))))
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._key(kind, name))
        out = {}
        for name, raw in zip(names, pipe.execute()):
            entry = _decode_entity(kind, name, raw)
            if entry is not None:
                out[name] = entry
        return out

    def apply(self, changes: Iterable[Change]) -> dict[tuple[str, str], int]:
        grouped = group_changes(changes)
        if not grouped:
            return {}
        now = repr(time.time())
        pipe = self.r.pipeline(transaction=True)  # MULTI/EXEC: all or nothing, no interleaving
        for (kind, name), attrs in grouped.items():
            key = self._key(kind, name)
            pipe.hset(key, mapping={a: dumps(v) for a, v in attrs.items()})
            pipe.hincrby(key, "__v", 1)
            pipe.hset(key, "__t", now)
            pipe.sadd(self._index(kind), name)
        results = pipe.execute()
        return {key: int(results[4 * i + 1]) for i, key in enumerate(grouped)}

    def put(self, kind: str, name: str, value: Mapping[str, Any], *, expect_version: int | None = None) -> int:
        args: list[Any] = ["" if expect_version is None else expect_version, repr(time.time()), name]
        for attr, val in dict(value).items():
            args += [attr, dumps(val)]
        status, version = self._put(keys=[self._key(kind, name), self._index(kind)], args=args)
        if int(status) < 0:
            raise VersionConflict(kind, name, expect_version, int(version))
        return int(version)

    def delete(self, kind: str, name: str) -> bool:
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self._key(kind, name))
        pipe.srem(self._index(kind), name)
        return bool(pipe.execute()[0])

    def clear(self, kinds: Iterable[str] = KINDS) -> None:
        for kind in kinds:
            names = [n.decode() for n in self.r.smembers(self._index(check_kind(kind)))]
            pipe = self.r.pipeline(transaction=True)
            for name in names:
                pipe.delete(self._key(kind, name))
            pipe.delete(self._index(kind))
            pipe.execute()

    def close(self) -> None:
        self.r.close()


def _decode_entity(kind: str, name: str, raw: dict[bytes, bytes]) -> Entry | None:
    if not raw:
        return None
    value = {k.decode(): json.loads(v) for k, v in raw.items() if k not in (b"__v", b"__t")}
    return Entry(kind, name, value, int(raw.get(b"__v", 0)), float(raw.get(b"__t", 0)))


class RedisHistory(HistoryLog):
    """History under ``<namespace>:h:``; random access by sequence, time, task, robot and kind."""

    name = "redis"

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", namespace: str = "roboos") -> None:
        self.url, self.ns = url, namespace
        self.p = f"{namespace}:h:"
        self.r = _client(url)
        self._append = self.r.register_script(_APPEND)
        self._keys = [self.p + "seq", self.p + "entries", self.p + "seqs", self.p + "ts"]

    def append_many(self, records: Iterable[Record]) -> list[int]:
        now = time.time()
        args: list[Any] = [self.p]
        for rec in records:
            digests = {label: blob_hash(payload) for label, payload in rec.blobs.items()}
            args += [repr(rec.ts if rec.ts is not None else now), rec.kind, rec.task, rec.robot, dumps(rec.data),
                     dumps(digests) if digests else "", len(digests)]
            for label, payload in rec.blobs.items():
                args += [digests[label], payload]
        if len(args) == 1:
            return []
        return [int(s) for s in self._append(keys=self._keys, args=args)]

    def get(self, seq: int) -> HistoryEntry | None:
        raw = self.r.hget(self.p + "entries", seq)
        return None if raw is None else _decode_entry(seq, raw)

    def query(self, *, task: str | None = None, robot: str | None = None, kind: str | None = None,
              after_seq: int = 0, start_ts: float | None = None, end_ts: float | None = None,
              limit: int = 1000, newest_first: bool = False) -> list[HistoryEntry]:
        if limit <= 0:
            return []
        index = (self.p + f"task:{task}" if task is not None else self.p + f"robot:{robot}" if robot is not None
                 else self.p + f"kind:{kind}" if kind is not None else self.p + "seqs")
        if index == self.p + "seqs" and (start_ts is not None or end_ts is not None):
            return self._query_time(after_seq, start_ts, end_ts, limit, newest_first)
        out: list[HistoryEntry] = []
        low, high = after_seq, float("inf")
        page = max(64, 2 * limit)
        while len(out) < limit:
            if newest_first:
                seqs = self.r.zrevrangebyscore(index, f"({high}" if high != float("inf") else "+inf", f"({low}",
                                               start=0, num=page)
            else:
                seqs = self.r.zrangebyscore(index, f"({low}", "+inf", start=0, num=page)
            if not seqs:
                break
            for entry in self._load([int(s) for s in seqs]):
                if _matches(entry, task, robot, kind, start_ts, end_ts):
                    out.append(entry)
                    if len(out) >= limit:
                        break
            if newest_first:
                high = int(seqs[-1])
            else:
                low = int(seqs[-1])
        return out

    def _query_time(self, after_seq: int, start_ts: float | None, end_ts: float | None, limit: int,
                    newest_first: bool) -> list[HistoryEntry]:
        lo = "-inf" if start_ts is None else repr(start_ts)
        hi = "+inf" if end_ts is None else f"({end_ts!r}"
        seqs = [int(s) for s in self.r.zrangebyscore(self.p + "ts", lo, hi)]
        seqs = sorted((s for s in seqs if s > after_seq), reverse=newest_first)[:limit]
        return self._load(seqs)

    def _load(self, seqs: list[int]) -> list[HistoryEntry]:
        if not seqs:
            return []
        raws = self.r.hmget(self.p + "entries", seqs)
        return [_decode_entry(s, raw) for s, raw in zip(seqs, raws) if raw is not None]

    def last_seq(self) -> int:
        return int(self.r.get(self.p + "seq") or 0)

    def count(self) -> int:
        return int(self.r.zcard(self.p + "seqs"))

    def get_blob(self, digest: str) -> bytes | None:
        return self.r.get(self.p + f"b:{digest}")

    def prune(self, *, max_entries: int | None = None, max_age_s: float | None = None) -> int:
        doomed: set[int] = set()
        if max_age_s is not None:
            doomed.update(int(s) for s in self.r.zrangebyscore(self.p + "ts", "-inf", f"({time.time() - max_age_s!r}"))
        if max_entries is not None:
            excess = self.count() - max(0, max_entries)
            if excess > 0:
                doomed.update(int(s) for s in self.r.zrange(self.p + "seqs", 0, excess - 1))
        removed = 0
        ordered = sorted(doomed)
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start:start + 1000]
            entries = self._load(chunk)
            pipe = self.r.pipeline(transaction=True)
            for entry in entries:
                pipe.hdel(self.p + "entries", entry.seq)
                pipe.zrem(self.p + "seqs", entry.seq)
                pipe.zrem(self.p + "ts", entry.seq)
                pipe.zrem(self.p + f"kind:{entry.kind}", entry.seq)
                if entry.task:
                    pipe.zrem(self.p + f"task:{entry.task}", entry.seq)
                if entry.robot:
                    pipe.zrem(self.p + f"robot:{entry.robot}", entry.seq)
                for digest in entry.blobs.values():
                    pipe.hincrby(self.p + "b:refs", digest, -1)
            pipe.execute()
            removed += len(entries)
            for digest in {d for e in entries for d in e.blobs.values()}:
                if int(self.r.hget(self.p + "b:refs", digest) or 0) <= 0:
                    self.r.delete(self.p + f"b:{digest}")
                    self.r.hdel(self.p + "b:refs", digest)
        return removed

    def close(self) -> None:
        self.r.close()


def _decode_entry(seq: int, raw: bytes) -> HistoryEntry:
    ts, kind, task, robot, data, blobs = json.loads(raw)
    return HistoryEntry(seq=int(seq), ts=float(ts), kind=kind, task=task, robot=robot, data=json.loads(data),
                        blobs=json.loads(blobs) if blobs else {})


def _matches(entry: HistoryEntry, task: str | None, robot: str | None, kind: str | None,
             start_ts: float | None, end_ts: float | None) -> bool:
    return ((task is None or entry.task == task) and (robot is None or entry.robot == robot)
            and (kind is None or entry.kind == kind) and (start_ts is None or entry.ts >= start_ts)
            and (end_ts is None or entry.ts < end_ts))
