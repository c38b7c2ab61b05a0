"""Rich tables for ``roboos bench channel`` results."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

LABELS = {"roboos": "RoboOS channel", "zmq": "bare pyzmq + msgpack", "websocket": "websockets + msgpack-numpy",
          "grpc": "gRPC unary"}


def _us(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def render(result: dict[str, Any], console: Console) -> None:
    """Print the round-trip table, the target checks and the fleet summary."""
    m = result["machine"]
    console.print(f"[bold]roboos bench channel[/bold] — {m['cpu']} ({m['cores']} cores), load "
                  f"{', '.join(f'{x:.2f}' for x in m['load_avg_1_5_15'])}; TCP loopback, server in its own process")
    rt = result.get("round_trip") or {}
    if rt:
        table = Table(title="Round trip (µs)")
        for col in ("exchange", "transport", "p50", "p90", "p99", "max", "seq. rt/s", "pipelined msg/s",
                    "vs RoboOS p50"):
            table.add_column(col, justify="left" if col in ("exchange", "transport") else "right")
        for kind, per_t in rt.items():
            base = per_t.get("roboos", {}).get("p50_us")
            for name, s in per_t.items():
                if not s.get("n"):
                    continue
                ratio = f"{s['p50_us'] / base:.2f}×" if base else "-"
                piped = s.get("pipelined_per_s")
                table.add_row(kind, LABELS.get(name, name), _us(s["p50_us"]), _us(s["p90_us"]), _us(s["p99_us"]),
                              _us(s["max_us"]), f"{s['throughput_per_s']:,.0f}",
                              "-" if piped is None else f"{piped:,.0f}", ratio)
        console.print(table)
    targets = result.get("targets") or {}
    if targets:
        t = Table(title="Targets (issue 2)")
        for col in ("exchange", "overhead vs zmq p50 (≤ +20%)", "vs websockets p50 (≤ 1×)", "speed-up vs gRPC (≥ 2×)",
                    "p99 within limit"):
            t.add_column(col)
        t.caption = "pooled p50 / paired (median of per-round ratios)"
        for kind, row in targets.items():
            ov, ov2 = row.get("overhead_vs_zmq_p50"), row.get("overhead_vs_zmq_p50_paired")
            ws, ws2 = row.get("vs_websocket_p50"), row.get("vs_websocket_p50_paired")
            sp, sp2 = row.get("speedup_vs_grpc_p50"), row.get("speedup_vs_grpc_p50_paired")
            t.add_row(kind, "-" if ov is None else f"{ov:+.0%} / {_fmt(ov2, '+.0%')} {_ok(row.get('within_20pct_of_zmq'))}",
                      "-" if ws is None else f"{ws:.2f}× / {_fmt(ws2, '.2f')}× "
                                             f"{_ok(row.get('not_slower_than_websocket_p50'))}",
                      "-" if sp is None else f"{sp:.2f}× / {_fmt(sp2, '.2f')}× {_ok(row.get('2x_faster_than_grpc'))}",
                      f"{_ok(row.get('p99_within_limit'))} (≤ {row['p99_limit_us']:.0f} µs)")
        console.print(t)
    fleet = result.get("fleet")
    if fleet:
        f = Table(title=f"Fleet: {fleet['robots']} edges × {fleet['state_hz']:g} Hz state + {fleet['call_hz']:g} Hz "
                        f"calls for {fleet['seconds']:g} s")
        for col in ("stream", "sent", "received", "lost", "p50 µs", "p99 µs", "max µs"):
            f.add_column(col, justify="right")
        s, c = fleet["state"], fleet["calls"]
        f.add_row("state (edge→cloud, one way)", f"{s['attempted']:,}", f"{s['received']:,}", f"{s['lost']:,}",
                  _us(s["latency"].get("p50_us")), _us(s["latency"].get("p99_us")), _us(s["latency"].get("max_us")))
        f.add_row("calls (round trip)", f"{c['sent']:,}", f"{c['ok']:,}", f"{c['lost']:,}",
                  _us(c["latency"].get("p50_us")), _us(c["latency"].get("p99_us")), _us(c["latency"].get("max_us")))
        console.print(f)


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _ok(flag: bool | None) -> str:
    return "-" if flag is None else ("[green]yes[/green]" if flag else "[red]no[/red]")
