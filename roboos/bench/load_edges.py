"""One load-generator process: many lightweight edge agents (an ``EdgeChannel`` each, its own DEALER
socket) streaming 10 Hz heartbeats and state, answering calls and counting every execution.

``python -m roboos.bench.load_edges --connect tcp://127.0.0.1:7700 --first 0 --count 100 --stats out.json``
runs until SIGTERM/SIGINT, then stops sending, lets the queues drain and writes its counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from roboos.channel import EdgeChannel
from roboos.protocol import Envelope, MsgType
from roboos.protocol.messages import HelloBody


def robot_name(i: int) -> str:
    return f"load{i:04d}"


class LoadFleet:
    """``count`` agents in this process; counters of everything sent and executed."""

    def __init__(self, connect: str, first: int, count: int, *, rate_hz: float, heartbeat_s: float) -> None:
        self.connect, self.rate_hz = connect, rate_hz
        self.names = [robot_name(i) for i in range(first, first + count)]
        self.channels: dict[str, EdgeChannel] = {}
        self.states_sent: Counter[str] = Counter()
        self.executed: Counter[str] = Counter()  # call id -> executions (a value > 1 is a double execution)
        self.link_downs = 0
        self.heartbeat_s = heartbeat_s
        self.sending = True

    def _channel(self, name: str) -> EdgeChannel:
        hello = HelloBody(robot=name, embodiment="load_test", skills=[], profile={"kind": "load"})
        ch = EdgeChannel(self.connect, name, hello, heartbeat_interval_s=self.heartbeat_s, cloud_timeout_s=3.0)

        def on_call(env: Envelope) -> dict[str, Any]:  # trivial robot: execute = count, answer at once
            self.executed[env.id] += 1
            return {"ok": True, "value": {"recv_ns": time.time_ns()}, "error": None, "duration_s": 0.0}

        def on_link(up: bool) -> None:
            if not up:
                self.link_downs += 1

        ch.on_call = on_call
        ch.on_link_change = on_link
        return ch

    async def start(self) -> None:
        for i, name in enumerate(self.names):  # staggered: a fleet does not all boot in the same millisecond
            ch = self._channel(name)
            await ch.start(wait_welcome=None)
            self.channels[name] = ch
            if i % 20 == 19:
                await asyncio.sleep(0.05)

    async def stream_state(self) -> None:
        """STATE for every agent at ``rate_hz`` (one timer for the whole process, spread over the period)."""
        period = 1.0 / self.rate_hz
        tick = 0
        next_t = time.monotonic()
        while self.sending:
            tick += 1
            for name, ch in self.channels.items():
                if not ch.connected:
                    continue
                failed = ch.stats.send_failed
                await ch.send(MsgType.STATE, {"state": {"seq": tick, "battery": 0.9, "pose": [0.0, 0.0, 0.0]}})
                if ch.stats.send_failed == failed:  # refused sends are counted by the channel, not as sent
                    self.states_sent[name] += 1
            next_t += period
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))

    async def close(self) -> None:
        await asyncio.gather(*(ch.close() for ch in self.channels.values()), return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        dup = {k: v for k, v in self.executed.items() if v > 1}
        send_failed = sum(ch.stats.send_failed for ch in self.channels.values())
        return {"agents": len(self.channels), "states_sent": dict(self.states_sent), "send_failed": send_failed,
                "calls_executed": sum(self.executed.values()), "distinct_calls": len(self.executed),
                "double_executions": len(dup), "link_downs": self.link_downs,
                "connected_at_end": sum(ch.connected for ch in self.channels.values())}


async def main(args: argparse.Namespace) -> None:
    fleet = LoadFleet(args.connect, args.first, args.count, rate_hz=args.rate_hz, heartbeat_s=1.0 / args.rate_hz)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fleet.start()
    Path(args.stats + ".ready").write_text("ready")
    streamer = asyncio.create_task(fleet.stream_state())
    await stop.wait()
    fleet.sending = False
    await asyncio.wait_for(streamer, 5)
    await asyncio.sleep(1.0)  # let queued states leave the sockets before counting
    Path(args.stats).write_text(json.dumps(fleet.stats()))
    await fleet.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connect", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--stats", required=True)
    asyncio.run(main(parser.parse_args()))
