"""One load-generator process: many simulated edge agents driven by one ZeroMQ poller.

Each agent is a real protocol peer the cloud cannot tell from ``roboos edge``: its own DEALER socket
whose identity is the robot id (the socket options of :class:`roboos.channel.EdgeChannel`), the real
envelope codec, HELLO (validated :class:`HelloBody`) / WELCOME, heartbeats echoing the cloud's
``sent_ns`` for its RTT estimate, STATE at ``rate_hz``, CALLs answered with RESULT and de-duplicated by
call id (a retransmission gets the stored reply, never a second execution), re-registration after
``not_registered`` / BYE / a silent cloud. What it saves over one asyncio ``EdgeChannel`` per agent is
the per-agent event-loop machinery (timers, tasks, a reader per socket): one ``epoll`` and one timer
wheel serve every agent of the process, so 500 agents cost a fraction of a core and the cloud,
not the load generator, is what the benchmark measures.

Sends are spread over the period (agent ``i`` beats in slot ``i % SLOTS``) like a real fleet whose
robots booted at different times. Dispatch timing: each CALL's handler time is taken with
``time.monotonic_ns()`` (CLOCK_MONOTONIC, one clock for every process of the host) and returned in the
RESULT as ``recv_mono_ns``, with the wall-clock receive time and the CALL envelope's ``ts_ns`` (the
cloud's ``time.time_ns()`` when it built the CALL) for splitting the path into cloud and transport.

``python -m roboos.bench.load_edges --connect tcp://127.0.0.1:7700 --first 0 --count 250 --stats out.json``
runs until SIGTERM/SIGINT, then stops sending, keeps answering for a second and writes its counters.
"""

from __future__ import annotations

import argparse
import json
import resource
import select
import signal
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import zmq
from pydantic import ValidationError

from roboos.channel.base import configure_socket
from roboos.gc_freeze import freeze_startup_objects
from roboos.protocol import DEFAULT_LIMITS, Envelope, MsgType, ProtocolError, decode, encode, new_id
from roboos.protocol.messages import HelloBody, WelcomeBody
from roboos.skills.card import SkillCard

SLOTS = 100  # sends of a period are spread over this many slots (1 ms apart at 10 Hz: robots boot at any time)
RESULT_CACHE = 1024  # replies remembered per agent for retransmitted calls (as EdgeChannel)
CLOUD_TIMEOUT_S = 3.0  # nothing heard from the cloud for this long: link down, register again
HELLO_RETRY_S = 0.5
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
SKILL = SkillCard(name="noop", description="Do nothing and report success at once (load test robot).",
                  timeout_s=5.0)


def run_queue_wait_s() -> float | None:
    """Seconds this process's main thread has spent runnable but waiting for a CPU (Linux schedstat;
    ``None`` elsewhere): how much of a latency figure is the machine's contention, not the code."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def robot_name(i: int) -> str:
    """The robot id of load agent ``i``."""
    return f"load{i:04d}"


class Agent:
    """One simulated robot: its socket, registration state and idempotent call cache."""

    __slots__ = ("name", "sock", "hello_frames", "hello_id", "connected", "last_heard", "last_hello",
                 "echo", "hb_seq", "state_seq", "replies")

    def __init__(self, ctx: zmq.Context, connect: str, name: str) -> None:
        self.name = name
        sock = ctx.socket(zmq.DEALER)
        configure_socket(sock, DEFAULT_LIMITS)
        sock.setsockopt(zmq.IDENTITY, name.encode())
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.RECONNECT_IVL, 50)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        sock.connect(connect)
        self.sock = sock
        hello = HelloBody(robot=name, embodiment="load_test", skills=[SKILL.model_dump()], profile={"kind": "load"},
                          agent_version="load-generator", session=new_id())
        env = Envelope(MsgType.HELLO, hello.model_dump(), src=name)
        self.hello_id = env.id
        self.hello_frames = encode(env)
        self.connected = False
        self.last_heard = 0.0
        self.last_hello = -1e9
        self.echo: tuple[int, int] | None = None  # (cloud's sent_ns, perf_counter_ns when received)
        self.hb_seq = 0
        self.state_seq = 0
        self.replies: OrderedDict[str, list[Any]] = OrderedDict()  # call id -> encoded reply


class LoadFleet:
    """``count`` agents of this process and counters of everything sent, received and executed."""

    def __init__(self, connect: str, first: int, count: int, *, rate_hz: float) -> None:
        if count <= 0 or rate_hz <= 0:
            raise ValueError("count and rate_hz must be positive")
        self.ctx = zmq.Context()
        self.period = 1.0 / rate_hz
        self.agents = [Agent(self.ctx, connect, robot_name(i)) for i in range(first, first + count)]
        # epoll over the sockets' notification descriptors: a wake-up costs O(ready sockets), where a
        # zmq.Poller would walk every socket of the process on every call
        self.by_fd = {a.sock.getsockopt(zmq.FD): a for a in self.agents}
        self.epoll = select.epoll()
        for fd in self.by_fd:
            self.epoll.register(fd, select.EPOLLIN)
        self.states_sent: Counter[str] = Counter()
        self.executed: Counter[str] = Counter()  # call id -> executions (a value > 1 is a double execution)
        self.counts: Counter[str] = Counter()  # send_failed, duplicate_calls, link_downs, malformed, ...
        self.sending = True

    # ---------------------------------------------------------------------------------- sending
    def _send(self, agent: Agent, frames: list[Any]) -> bool:
        try:
            agent.sock.send_multipart(frames, zmq.NOBLOCK, copy=True)
        except zmq.Again:
            self.counts["send_failed"] += 1
            return False
        return True

    def _hello(self, agent: Agent, now: float) -> None:
        if now - agent.last_hello >= HELLO_RETRY_S:
            agent.last_hello = now
            self._send(agent, agent.hello_frames)

    def _beat(self, agent: Agent, now: float) -> None:
        """One period of one agent: heartbeat and STATE (or HELLO while unregistered)."""
        if agent.connected and now - agent.last_heard > CLOUD_TIMEOUT_S:
            agent.connected = False
            self.counts["link_downs"] += 1
        if not agent.connected:
            self._hello(agent, now)
            return
        agent.hb_seq += 1
        body: dict[str, Any] = {"seq": agent.hb_seq, "busy": False}
        if agent.echo is not None:
            sent, got = agent.echo
            body["echo_ns"], body["held_ns"] = sent, time.perf_counter_ns() - got
            agent.echo = None
        self._send(agent, encode(Envelope(MsgType.HEARTBEAT, body, new_id(), None, agent.name, "")))
        if self.sending:
            agent.state_seq += 1
            state = {"seq": agent.state_seq, "battery": 0.9, "pose": [0.0, 0.0, 0.0], "status": "idle"}
            frames = encode(Envelope(MsgType.STATE, {"state": state, "taken_ns": time.time_ns()}, new_id(),
                                     None, agent.name, ""))
            if self._send(agent, frames):
                self.states_sent[agent.name] += 1

    # -------------------------------------------------------------------------------- receiving
    def _drain(self, agent: Agent) -> None:
        """Receive everything queued. ZeroMQ's descriptor only signals edges, so this runs after every
        wake-up and every send on the socket (a send may consume the edge of a message that arrived)."""
        sock = agent.sock
        while sock.getsockopt(_EVENTS) & _POLLIN:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._on_message(agent, frames)

    def _on_message(self, agent: Agent, frames: list[bytes]) -> None:
        try:
            env = decode(frames)
        except ProtocolError:
            self.counts["malformed"] += 1
            return
        agent.last_heard = time.monotonic()
        mtype = env.type
        if mtype is MsgType.CALL:
            self._on_call(agent, env)
        elif mtype is MsgType.HEARTBEAT:
            sent = env.body.get("sent_ns")
            if isinstance(sent, int):
                agent.echo = (sent, time.perf_counter_ns())
        elif mtype is MsgType.WELCOME:
            try:
                WelcomeBody.model_validate(env.body)
            except ValidationError:
                self.counts["bad_welcome"] += 1
                return
            if not agent.connected:
                agent.connected = True
                self.counts["registrations"] += 1
        elif mtype is MsgType.ERROR:
            self.counts["errors_received"] += 1
            if env.body.get("code") == "not_registered" or env.reply_to == agent.hello_id:
                if agent.connected:
                    agent.connected = False
                    self.counts["link_downs"] += 1
                self._hello(agent, agent.last_heard)
        elif mtype is MsgType.BYE:
            if agent.connected:
                agent.connected = False
                self.counts["link_downs"] += 1
        else:
            self.counts["ignored"] += 1  # CANCEL of an answered call and the like

    def _on_call(self, agent: Agent, env: Envelope) -> None:
        """Execute once per call id (a trivial robot: count it, answer at once); replay otherwise."""
        recv = time.monotonic_ns()
        reply = agent.replies.get(env.id)
        if reply is not None:
            self.counts["duplicate_calls"] += 1
            agent.replies.move_to_end(env.id)
            self._send(agent, reply)
            return
        self.executed[env.id] += 1
        value = {"recv_mono_ns": recv, "recv_wall_ns": time.time_ns(), "call_ts_ns": env.ts_ns}
        body = {"ok": True, "value": value, "error": None, "duration_s": 0.0}
        reply = encode(Envelope(MsgType.RESULT, body, new_id(), env.id, agent.name, env.src))
        agent.replies[env.id] = reply
        if len(agent.replies) > RESULT_CACHE:
            agent.replies.popitem(last=False)
        self._send(agent, reply)

    # ------------------------------------------------------------------------------------- loop
    def run(self, stop: list[bool], linger_s: float = 1.0) -> None:
        """Serve until ``stop[0]`` is set, then stop sending STATE and keep answering for ``linger_s``."""
        now = time.monotonic()
        for a in self.agents:
            self._hello(a, now)
            self._drain(a)
        slot_s = self.period / SLOTS
        groups = [self.agents[s::SLOTS] for s in range(SLOTS)]
        slot, next_slot = 0, now + slot_s
        end = float("inf")
        while now < end:
            if stop[0] and self.sending:
                self.sending, end = False, now + linger_s
            try:
                ready = self.epoll.poll(max(0.0, next_slot - now))
            except InterruptedError:
                ready = []
            for fd, _ in ready:
                self._drain(self.by_fd[fd])
            now = time.monotonic()
            while now >= next_slot:
                for agent in groups[slot]:
                    self._beat(agent, now)
                    self._drain(agent)
                slot = (slot + 1) % SLOTS
                next_slot += slot_s
                if now - next_slot > self.period:  # stalled for a whole period: do not burst to catch up
                    self.counts["stalls"] += 1
                    next_slot = now + slot_s

    def close(self) -> None:
        """Say BYE for every registered agent and close the sockets."""
        for a in self.agents:
            if a.connected:
                self._send(a, encode(Envelope(MsgType.BYE, {"reason": "load generator stopping"}, src=a.name)))
            a.sock.close(linger=100)
        self.epoll.close()
        self.ctx.term()

    def stats(self) -> dict[str, Any]:
        """Counters for the driver (JSON-ready)."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"agents": len(self.agents), "states_sent": dict(self.states_sent),
                "send_failed": self.counts["send_failed"], "calls_executed": sum(self.executed.values()),
                "distinct_calls": len(self.executed),
                "double_executions": sum(1 for v in self.executed.values() if v > 1),
                "duplicate_calls": self.counts["duplicate_calls"], "link_downs": self.counts["link_downs"],
                "registrations": self.counts["registrations"], "errors_received": self.counts["errors_received"],
                "malformed": self.counts["malformed"], "stalls": self.counts["stalls"],
                "connected_at_end": sum(a.connected for a in self.agents),
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
                "run_queue_wait_s": run_queue_wait_s()}


def main(argv: list[str] | None = None) -> None:
    """Command line entry (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connect", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--stats", required=True)
    args = parser.parse_args(argv)
    fleet = LoadFleet(args.connect, args.first, args.count, rate_hz=args.rate_hz)
    freeze_startup_objects()  # like the cloud: full collections skip the fleet's startup objects
    stop = [False]

    def on_signal(_sig: int, _frame: Any) -> None:
        stop[0] = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    Path(args.stats + ".ready").write_text("ready")
    try:
        fleet.run(stop)
        Path(args.stats).write_text(json.dumps(fleet.stats()))
    finally:
        fleet.close()


if __name__ == "__main__":
    main()
