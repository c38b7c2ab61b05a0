"""How ``roboos bench load`` reads the cloud's memory: the warm-up covers ZeroMQ's one-time pipe blocks, and
the benchmark's own sample arrays are not counted as the cloud's growth."""

from __future__ import annotations

import pytest

from roboos.bench.load import ZMQ_PIPE_CHUNK, _cpu_rss, default_warmup_s


def test_warmup_lasts_until_each_robot_pipe_carried_two_blocks() -> None:
    # 500 robots: 2 heartbeats/s + 100 calls/s shared -> 2.2 messages/s per robot, 2 x 256 / 2.2 s
    assert default_warmup_s(600, 500, 100, 0.5) == pytest.approx(2 * ZMQ_PIPE_CHUNK / 2.2)
    assert default_warmup_s(600, 5, 100, 0.5) == 60.0  # never shorter than a minute
    assert default_warmup_s(90, 500, 100, 0.5) == 36.0  # at most 40 % of a short soak


def test_growth_excludes_the_benchmarks_own_arrays() -> None:
    # the process grows by exactly what the sample arrays grow: the cloud itself is flat
    samples = [{"t": float(t), "cpu_pct": 50.0, "rss_mb": 100.0 + t / 100, "bench_arrays_mb": t / 100}
               for t in range(0, 300)]
    out = _cpu_rss(samples, warmup=100.0)
    assert out["rss_growth_after_warmup_pct"] == 0.0 and out["rss_slope_second_half_mb_per_min"] == 0.0
    assert out["cloud_rss_mb"]["after_warmup"] == 100.0 and out["rss_growth_after_60s_pct"] == 0.0
    grown = _cpu_rss([{**s, "rss_mb": s["rss_mb"] + (10.0 if s["t"] > 200 else 0.0)} for s in samples], 100.0)
    assert grown["rss_growth_after_warmup_pct"] == pytest.approx(10.0)
