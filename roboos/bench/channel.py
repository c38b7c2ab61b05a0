"""``roboos bench channel``: round-trip latency and throughput of the RoboOS channel vs. baselines.

Two exchanges — a ≤ 1 KB skill call answered by its result, and a 224×224×3 uint8 image + state answered
by a 50×32 float32 action chunk — over four transports, each with the answering side in its own process
on TCP loopback: the RoboOS channel, bare pyzmq DEALER/ROUTER + msgpack (the floor), websockets +
msgpack-numpy (openpi's protocol) and gRPC unary. Samples are split into rounds that rotate the
transport order, so load drift on a shared machine hits every transport alike. A fleet phase
(:mod:`roboos.bench.channel_fleet`) adds ≥ 50 edge connections at 100 Hz state plus calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roboos.bench import latency_summary, machine_info, utc_now
from roboos.bench.channel_procs import ServerProcess

SERVERS_MODULE = "roboos.bench.channel_servers"
TRANSPORTS = ("roboos", "zmq", "websocket", "grpc")
KINDS = ("control", "image")
PACKAGES = ("pyzmq", "msgpack", "numpy", "websockets", "grpcio", "pydantic", "uvloop")


@dataclass
class ChannelBenchOptions:
    samples: int = 2000  # timed round trips per transport and kind
    warmup: int = 200
    rounds: int = 20  # ratios are also taken per round (paired), see compare()
    transports: tuple[str, ...] = TRANSPORTS
    kinds: tuple[str, ...] = KINDS
    fleet_robots: int = 50
    fleet_seconds: float = 5.0
    fleet_state_hz: float = 100.0
    fleet_call_hz: float = 10.0
    fleet_workers: int = 2
    throughput_seconds: float = 2.0  # pipelined phase per transport and kind (0 skips it)
    throughput_window: int = 16  # requests in flight during the pipelined phase
    command: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


BASELINE_MODULES = {"websocket": "websockets", "grpc": "grpc"}


def available_transports(transports: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, str]]:
    """The transports whose libraries are installed, and why the others are skipped."""
    import importlib.util

    keep, skipped = [], {}
    for name in transports:
        module = BASELINE_MODULES.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            skipped[name] = f"{module} is not installed (pip install {module})"
        else:
            keep.append(name)
    return tuple(keep), skipped


def _start_clients(transports: tuple[str, ...], stack: list[Any]) -> dict[str, Any]:
    from roboos.bench.channel_clients import GrpcClient, RoboosChannelClient, WebsocketClient, ZmqClient

    clients: dict[str, Any] = {}
    for name in transports:
        if name == "roboos":
            cloud = ServerProcess(SERVERS_MODULE, "channel-cloud", "tcp://127.0.0.1:0")
            stack.append(cloud)
            clients[name] = RoboosChannelClient(
                cloud.endpoint, lambda ep: ServerProcess(SERVERS_MODULE, "channel-edge", ep))
        elif name == "zmq":
            srv = ServerProcess(SERVERS_MODULE, "zmq", "tcp://127.0.0.1:*")
            stack.append(srv)
            clients[name] = ZmqClient(srv.endpoint)
        elif name == "websocket":
            srv = ServerProcess(SERVERS_MODULE, "ws", "127.0.0.1:0")
            stack.append(srv)
            clients[name] = WebsocketClient(srv.endpoint)
        elif name == "grpc":
            srv = ServerProcess(SERVERS_MODULE, "grpc", "127.0.0.1:0")
            stack.append(srv)
            clients[name] = GrpcClient(srv.endpoint)
        else:
            raise ValueError(f"unknown transport {name!r}; choose from {', '.join(TRANSPORTS)}")
        stack.append(clients[name])
    return clients


def run_round_trips(opts: ChannelBenchOptions, progress: Callable[[str, int], None] | None = None
                    ) -> dict[str, dict[str, Any]]:
    """Latency summaries: ``{kind: {transport: summary}}``."""
    stack: list[Any] = []
    samples: dict[str, dict[str, list[float]]] = {k: {t: [] for t in opts.transports} for k in opts.kinds}
    tick = progress or (lambda label, n: None)
    try:
        clients = _start_clients(opts.transports, stack)
        for kind in opts.kinds:
            for name, client in clients.items():  # warm-up: connections, caches, allocator
                client.measure(kind, opts.warmup, lambda n: None)
        per_round = max(1, opts.samples // max(1, opts.rounds))
        order = list(opts.transports)
        loads = opts.extra.setdefault("load_avg_1min_per_round", [])
        round_p50: dict[str, dict[str, list[float]]] = {k: {t: [] for t in opts.transports} for k in opts.kinds}
        for r in range(max(1, opts.rounds)):
            loads.append(_load_1min())
            for kind in opts.kinds:
                for name in order:
                    got = clients[name].measure(kind, per_round, lambda n, k=kind, t=name: tick(f"{k}/{t}", n))
                    samples[kind][name] += got
                    round_p50[kind][name].append(float(np.median(got)) * 1e6)
            order = order[1:] + order[:1]
        pipelined: dict[str, dict[str, float]] = {k: {} for k in opts.kinds}
        if opts.throughput_seconds > 0:
            for kind in opts.kinds:
                for name in opts.transports:
                    tick(f"pipelined {kind}/{name}", 0)
                    pipelined[kind][name] = clients[name].pipelined(kind, opts.throughput_seconds,
                                                                    opts.throughput_window)
    finally:
        for item in reversed(stack):
            item.close()
    out: dict[str, dict[str, Any]] = {}
    for kind, per_t in samples.items():
        out[kind] = {}
        for t, v in per_t.items():
            out[kind][t] = latency_summary(v)
            out[kind][t]["round_p50_us"] = [round(x, 1) for x in round_p50[kind][t]]
            if t in pipelined.get(kind, {}):
                out[kind][t]["pipelined_per_s"] = pipelined[kind][t]
                out[kind][t]["pipelined_window"] = opts.throughput_window
    return out


def _load_1min() -> float | None:
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def paired_ratio(mine: list[float], theirs: list[float]) -> float | None:
    """Median over rounds of ``mine[r] / theirs[r]`` (per-round p50s measured back to back).

    Pairing cancels the load drift of a shared machine: both p50s of a round saw the same neighbours.
    """
    pairs = [a / b for a, b in zip(mine, theirs) if b > 0]
    return float(np.median(pairs)) if pairs else None


def compare(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The issue's targets, evaluated on the measured p50/p99 figures.

    Ratios are given twice: from the p50 of all samples pooled, and paired (median over rounds of the
    per-round ratio); a target counts as met when both agree.
    """
    out: dict[str, dict[str, Any]] = {}
    for kind, per_t in results.items():
        me = per_t.get("roboos")
        if not me or not me.get("n"):
            continue
        row: dict[str, Any] = {}
        mine = me.get("round_p50_us", [])
        if per_t.get("zmq", {}).get("n"):
            paired = paired_ratio(mine, per_t["zmq"].get("round_p50_us", []))
            row["overhead_vs_zmq_p50"] = me["p50_us"] / per_t["zmq"]["p50_us"] - 1
            row["overhead_vs_zmq_p50_paired"] = None if paired is None else paired - 1
            row["within_20pct_of_zmq"] = _all_le([row["overhead_vs_zmq_p50"], row["overhead_vs_zmq_p50_paired"]],
                                                 0.20)
        if per_t.get("websocket", {}).get("n"):
            paired = paired_ratio(mine, per_t["websocket"].get("round_p50_us", []))
            row["vs_websocket_p50"] = me["p50_us"] / per_t["websocket"]["p50_us"]
            row["vs_websocket_p50_paired"] = paired
            row["not_slower_than_websocket_p50"] = _all_le([row["vs_websocket_p50"], paired], 1.0)
        if per_t.get("grpc", {}).get("n"):
            paired = paired_ratio(per_t["grpc"].get("round_p50_us", []), mine)
            row["speedup_vs_grpc_p50"] = per_t["grpc"]["p50_us"] / me["p50_us"]
            row["speedup_vs_grpc_p50_paired"] = paired
            row["2x_faster_than_grpc"] = row["speedup_vs_grpc_p50"] >= 2.0 and (paired is None or paired >= 2.0)
        limit = 1000.0 if kind == "control" else 1500.0
        row["p99_limit_us"] = limit
        row["p99_within_limit"] = me["p99_us"] <= limit
        out[kind] = row
    return out


def _all_le(values: list[float | None], limit: float) -> bool:
    return all(v <= limit for v in values if v is not None)


def run_channel_bench(opts: ChannelBenchOptions, progress: Callable[[str, int], None] | None = None
                      ) -> dict[str, Any]:
    """Round trips for every transport, then the fleet; returns the JSON-ready result."""
    from roboos.bench.channel_fleet import run_fleet
    from roboos.channel.loop import loop_name

    info = machine_info(PACKAGES)
    info["event_loop"] = loop_name()  # of every asyncio side (RoboOS ends, websocket server, fleet)
    started = utc_now()
    transports, skipped = available_transports(opts.transports)
    opts.transports = transports
    rt = run_round_trips(opts, progress) if opts.samples > 0 and opts.transports else {}
    fleet = (run_fleet(opts.fleet_robots, opts.fleet_seconds, opts.fleet_state_hz, opts.fleet_call_hz,
                       opts.fleet_workers, progress) if opts.fleet_robots > 0 else None)
    try:
        import os

        info["load_avg_at_end"] = list(os.getloadavg())
    except OSError:
        pass
    return {
        "bench": "channel",
        "date": started,
        "command": opts.command,
        "machine": info,
        "notes": opts.notes,
        "options": {k: v for k, v in opts.__dict__.items() if k not in ("command", "notes", "extra")},
        "payloads": {"control": "skill call ~250 B msgpack -> result ~150 B",
                     "image": "224x224x3 uint8 image + 14 float32 state -> 50x32 float32 action chunk"},
        "round_trip": rt,
        "targets": compare(rt),
        "skipped_transports": skipped,
        "fleet": fleet,
        **opts.extra,
    }
