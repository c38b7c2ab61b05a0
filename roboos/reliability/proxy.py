"""A lossy ZeroMQ proxy for fault-injection tests: sits between edge DEALERs and the cloud ROUTER on
loopback and drops, duplicates and reorders messages (whole multipart messages, never partial ones).

Edges connect to :attr:`LossyProxy.endpoint`; for each edge identity the proxy opens its own DEALER to
the cloud with the same identity, so the cloud sees the same robots. It runs in a thread with a
blocking poller (independent of the event loops under test) and counts what it did.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from dataclasses import dataclass, field

import zmq


@dataclass
class Faults:
    """Probabilities per message, each direction; a reordered message is held up to ``delay_s``."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay_s: float = 0.05
    seed: int = 0


@dataclass
class ProxyStats:
    forwarded: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    by_direction: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})


class LossyProxy:
    """``LossyProxy(cloud_endpoint, Faults(drop=0.05, duplicate=0.05, reorder=0.1))`` as a context manager."""

    def __init__(self, cloud: str, faults: Faults | None = None) -> None:
        self.cloud = cloud
        self.faults = faults or Faults()
        self.stats = ProxyStats()
        self.enabled = True  # False: forward everything untouched (e.g. while robots register)
        self._rng = random.Random(self.faults.seed)
        self._ctx = zmq.Context()
        self._front = self._ctx.socket(zmq.ROUTER)
        self._front.setsockopt(zmq.LINGER, 0)
        self._front.setsockopt(zmq.ROUTER_HANDOVER, 1)
        port = self._front.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self._backs: dict[bytes, zmq.Socket] = {}
        self._identity_of: dict[zmq.Socket, bytes] = {}
        self._held: list[tuple[float, int, str, bytes, list[bytes]]] = []
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-proxy", daemon=True)

    def __enter__(self) -> LossyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in [self._front, *self._backs.values()]:
            sock.close(0)
        self._ctx.term()

    def _back(self, identity: bytes) -> zmq.Socket:
        sock = self._backs.get(identity)
        if sock is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.IDENTITY, identity)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.cloud)
            self._backs[identity] = sock
            self._identity_of[sock] = identity
            self._poller.register(sock, zmq.POLLIN)
        return sock

    def _deliver(self, direction: str, identity: bytes, frames: list[bytes]) -> None:
        try:
            if direction == "up":
                self._back(identity).send_multipart(frames, zmq.NOBLOCK)
            else:
                self._front.send_multipart([identity, *frames], zmq.NOBLOCK)
        except zmq.ZMQError:
            self.stats.dropped += 1  # queue full / peer gone: a real network loses it too
            return
        self.stats.forwarded += 1
        self.stats.by_direction[direction] += 1

    def _route(self, direction: str, identity: bytes, frames: list[bytes]) -> None:
        f, rng = self.faults, self._rng
        if not self.enabled:
            self._deliver(direction, identity, frames)
            return
        if rng.random() < f.drop:
            self.stats.dropped += 1
            return
        copies = 2 if rng.random() < f.duplicate else 1
        self.stats.duplicated += copies - 1
        for _ in range(copies):
            if rng.random() < f.reorder:  # held back: later messages overtake it
                self.stats.reordered += 1
                due = time.monotonic() + rng.uniform(0.2, 1.0) * f.delay_s
                heapq.heappush(self._held, (due, next(self._seq), direction, identity, frames))
            else:
                self._deliver(direction, identity, frames)

    def _run(self) -> None:
        self._poller = zmq.Poller()
        self._poller.register(self._front, zmq.POLLIN)
        while not self._stop.is_set():
            wait_ms = 20
            if self._held:
                wait_ms = max(0, min(wait_ms, int((self._held[0][0] - time.monotonic()) * 1000)))
            for sock, _ in self._poller.poll(wait_ms):
                while True:
                    try:
                        msg = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if sock is self._front:
                        self._route("up", msg[0], msg[1:])
                    else:
                        self._route("down", self._identity_of[sock], msg)
            now = time.monotonic()
            while self._held and self._held[0][0] <= now:
                _, _, direction, identity, frames = heapq.heappop(self._held)
                self._deliver(direction, identity, frames)
