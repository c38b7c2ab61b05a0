"""The ZeroMQ pipe-residency probe behind ``roboos bench load``'s warm-up runs and reports its samples."""

from __future__ import annotations

from roboos.bench.zmq_pipe import measure


def test_probe_samples_rss_and_heap_every_32_messages_per_peer() -> None:
    out = measure(peers=8, rate_hz=2000.0, messages=64)
    assert [s["messages_per_peer"] for s in out["samples"]] == [0, 32, 64]
    assert all(s["rss_mb"] > 0 for s in out["samples"])
    assert out["peers"] == 8 and out["libzmq"]
