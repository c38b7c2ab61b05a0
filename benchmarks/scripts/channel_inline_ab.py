"""Diagnostic: same-run A/B of the channel's inline reply wait (``ChannelCore._await_reply``).

``python benchmarks/scripts/channel_inline_ab.py --per-round 200 --rounds 30 --out OUT.json`` starts the
clients and servers of ``roboos bench channel`` (RoboOS, bare pyzmq, websockets), then in each round runs
the control exchange and then the image exchange for bare pyzmq, websockets, RoboOS with the inline wait
(``inline_wait_s`` = 1 ms, the default) and RoboOS without it (0: every reply through the event loop), in an
order that rotates every round. Reports each entry's median p50 over rounds and its paired ratio (median over
rounds of the per-round p50 ratio) to bare pyzmq and to websockets. The switch only concerns the calling
side (the benchmark process): ``CloudChannel.call`` for control, ``EdgeChannel.request`` for image.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

from roboos.bench import machine_info, utc_now, write_result
from roboos.bench.channel import PACKAGES, _start_clients

KINDS = ("control", "image")
ENTRIES = {"zmq": ("zmq", None), "websocket": ("websocket", None),
           "roboos_inline": ("roboos", 0.001), "roboos_loop": ("roboos", 0.0)}


def run_ab(per_round: int, rounds: int, warmup: int = 200) -> dict[str, dict[str, list[float]]]:
    """Per kind and entry, the p50 (µs) of every round."""
    stack: list = []
    try:
        clients = _start_clients(("roboos", "zmq", "websocket"), stack)
        for kind in KINDS:
            for client in clients.values():
                client.measure(kind, warmup, lambda n: None)
        p50: dict[str, dict[str, list[float]]] = {k: {e: [] for e in ENTRIES} for k in KINDS}
        order = list(ENTRIES)
        roboos = clients["roboos"]
        for _ in range(rounds):
            for kind in KINDS:
                for entry in order:
                    name, inline_wait_s = ENTRIES[entry]
                    if inline_wait_s is not None:
                        roboos.cloud.inline_wait_s = roboos.edge.inline_wait_s = inline_wait_s
                    lat = clients[name].measure(kind, per_round, lambda n: None)
                    p50[kind][entry].append(float(np.median(lat)) * 1e6)
            order = order[1:] + order[:1]
        return p50
    finally:
        for item in reversed(stack):
            item.close()


def summarize(p50: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind, entries in p50.items():
        out[kind] = {}
        for entry, values in entries.items():
            out[kind][entry] = {
                "p50_us": round(statistics.median(values), 1),
                "paired_vs_zmq_pct": round(100 * statistics.median(
                    a / b - 1 for a, b in zip(values, entries["zmq"])), 1),
                "paired_vs_websocket": round(statistics.median(
                    a / b for a, b in zip(values, entries["websocket"])), 3),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-round", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    p50 = run_ab(args.per_round, args.rounds)
    summary = summarize(p50)
    for kind, entries in summary.items():
        for entry, row in entries.items():
            print(f"{kind:8} {entry:14} p50 {row['p50_us']:7.1f} µs  paired vs pyzmq {row['paired_vs_zmq_pct']:+6.1f} %"
                  f"  vs websockets {row['paired_vs_websocket']:.2f}×")
    write_result(args.out, {"bench": "channel-inline-ab", "date": utc_now(),
                            "command": "python benchmarks/scripts/channel_inline_ab.py " + " ".join(sys.argv[1:]),
                            "machine": machine_info(PACKAGES), "per_round": args.per_round, "rounds": args.rounds,
                            "summary": summary, "round_p50_us": p50})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
