"""CI-sized load run (the long soak is ``roboos bench load``): 50 protocol-level edge agents in 2 processes
against one Master (SQLite memory), 10 Hz heartbeats + state, one-step tasks dispatched continuously.
Correctness only (nothing lost, nothing executed twice, nobody timed out, finished tasks bounded in RAM);
the latency and memory targets are judged by the benchmark."""

from __future__ import annotations

import asyncio

import pytest

from roboos.bench.load import run_load

pytestmark = pytest.mark.slow  # 50 agents for 10 s


def test_fifty_agents_ten_seconds_nothing_lost() -> None:
    r = asyncio.run(run_load(agents=50, processes=2, seconds=10, calls_per_s=40, warmup_s=2,
                             freeze_gc=False))  # a freeze would outlive this test in the worker
    assert r["unregistered"] == 0
    assert r["calls_lost"] == 0 and r["calls_answered"] == r["calls_sent"] > 300
    assert r["calls_executed_at_edges"] == r["calls_sent"] and r["double_executions"] == 0
    assert r["states_lost"] == 0 and r["states_received"] >= r["states_sent"] > 3000
    assert r["missed_heartbeat_timeouts"] == 0 and r["edge_link_downs"] == 0
    assert r["dispatch_latency_s"]["n"] == r["calls_answered"] and r["dispatch_latency_s"]["p50_us"] > 0
    print(f"load 50 agents: dispatch p50 {r['dispatch_latency_s']['p50_us']:.0f} us, p99 "
          f"{r['dispatch_latency_s']['p99_us']:.0f} us, cloud RSS {r['cloud_rss_mb']}")
