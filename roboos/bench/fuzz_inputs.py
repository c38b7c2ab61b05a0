"""Fuzz inputs: a fast, seeded mutator over valid seed messages (bit flips, truncation, splicing, random
bytes, random msgpack/JSON structures), used by ``roboos bench fuzz``. The CI tests drive the same
surfaces with hypothesis strategies instead (``tests/reliability``)."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import msgpack

INTERESTING_INTS = (0, 1, -1, 2**7, 2**8, 2**15, 2**16, 2**31 - 1, -(2**31), 2**32, 2**63 - 1, -(2**63), 2**64 - 1)
INTERESTING_STRS = ("", "..", "../../etc/passwd", "\x00", "{", "}", "[", "]", "\"", "\\", "nan", "inf", "-1e309",
                    "<answer>", "</answer>", "<think>", "()", "(1,", "1e400", "A" * 300, "é☃", "\ud800x")


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON/msgpack-compatible value (bounded depth and size)."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.choice(INTERESTING_INTS) if rng.random() < 0.5 else rng.randint(-1000, 1000)
    if kind == 3:
        return rng.choice((0.0, -0.0, 1e308, -1e-308, float("nan"), float("inf"), rng.uniform(-1e3, 1e3)))
    if kind == 4:
        return rng.choice(INTERESTING_STRS) if rng.random() < 0.5 else "".join(
            chr(rng.randrange(32, 0x250)) for _ in range(rng.randrange(12)))
    if kind == 5:
        return rng.randbytes(rng.randrange(16))
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {str(random_value(rng, 3)) if rng.random() < 0.8 else rng.choice(INTERESTING_STRS):
            random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def to_json_safe(value: Any) -> Any:
    """``value`` with bytes turned into strings (for JSON surfaces)."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list):
        return [to_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    return value


def mutate_bytes(data: bytes, rng: random.Random, seeds: Sequence[bytes] = (), max_len: int = 1 << 16) -> bytes:
    """One to four random byte-level mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        if op == 0 and buf:  # bit flip
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # random byte
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 2 and buf:  # truncate
            del buf[rng.randrange(len(buf)):]
        elif op == 3:  # insert random bytes
            i = rng.randrange(len(buf) + 1)
            buf[i:i] = rng.randbytes(rng.randrange(1, 16))
        elif op == 4 and buf:  # delete a range
            i = rng.randrange(len(buf))
            del buf[i:i + rng.randrange(1, 16)]
        elif op == 5 and seeds:  # splice with another seed
            other = rng.choice(seeds)
            cut = rng.randrange(len(buf) + 1)
            buf = buf[:cut] + other[rng.randrange(len(other) + 1):]
        elif op == 6 and buf:  # interesting integer bytes
            i = rng.randrange(len(buf))
            buf[i:i + 4] = rng.choice(INTERESTING_INTS).to_bytes(9, "little", signed=True)[:4]
        elif op == 7 and buf:  # duplicate a chunk
            i = rng.randrange(len(buf))
            buf[i:i] = buf[i:i + rng.randrange(1, 64)] * rng.randrange(1, 8)
    return bytes(buf[:max_len])


def mutate_structure(value: Any, rng: random.Random) -> Any:
    """Replace, drop or add one random node of a decoded structure."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        out = dict(value)
        op = rng.randrange(3)
        if op == 0:
            del out[key]
        elif op == 1:
            out[key] = mutate_structure(out[key], rng)
        else:
            out[str(random_value(rng, 3))] = random_value(rng, 1)
        return out
    if isinstance(value, list) and value and rng.random() < 0.7:
        out = list(value)
        i = rng.randrange(len(out))
        out[i] = mutate_structure(out[i], rng) if rng.random() < 0.7 else random_value(rng, 1)
        return out
    return random_value(rng, 1)


class Mutator:
    """Yields fuzz inputs from seeds: a mix of byte mutations, structure mutations and pure noise."""

    def __init__(self, seeds: Sequence[Any], *, kind: str = "msgpack", seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.values = list(seeds)
        self.kind = kind
        self.seed_bytes = [self.dump(v) for v in self.values]

    def dump(self, value: Any) -> bytes:
        if self.kind == "msgpack":
            return msgpack.packb(value, use_bin_type=True)
        if self.kind == "json":
            return json.dumps(to_json_safe(value)).encode()
        return value if isinstance(value, bytes) else str(value).encode()

    def __call__(self) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return rng.randbytes(rng.randrange(64))
        if roll < 0.4 and self.values and self.kind != "text":
            try:
                return self.dump(mutate_structure(rng.choice(self.values), rng))
            except (ValueError, TypeError, OverflowError):
                pass
        return mutate_bytes(rng.choice(self.seed_bytes), rng, self.seed_bytes)
