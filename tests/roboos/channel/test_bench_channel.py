"""``roboos bench channel`` in miniature: every code path runs, nothing is asserted about speed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from roboos.bench.channel import ChannelBenchOptions, compare, run_channel_bench


def test_short_bench_run_produces_complete_result() -> None:
    opts = ChannelBenchOptions(samples=30, warmup=5, rounds=2, transports=("roboos", "zmq"), kinds=("control", "image"),
                               fleet_robots=4, fleet_seconds=0.5, fleet_call_hz=10, fleet_workers=1,
                               throughput_seconds=0.2, throughput_window=4)
    seen: dict[str, int] = {}
    result = run_channel_bench(opts, lambda label, n: seen.__setitem__(label, seen.get(label, 0) + n))
    for kind in ("control", "image"):
        for transport in ("roboos", "zmq"):
            summary = result["round_trip"][kind][transport]
            assert summary["n"] == 30 and summary["p50_us"] > 0 and summary["max_us"] >= summary["p99_us"]
            assert summary["pipelined_per_s"] > 0 and summary["pipelined_window"] == 4
        assert "overhead_vs_zmq_p50" in result["targets"][kind]
    fleet = result["fleet"]
    assert fleet["robots"] == 4 and fleet["state"]["attempted"] > 0 and fleet["calls"]["sent"] > 0
    assert fleet["lost_messages"] == fleet["state"]["lost"] + fleet["calls"]["lost"]
    assert fleet["state"]["send_failed_at_edge"] == 0  # the first HELLO (sent before connecting) is not a state
    assert seen["control/roboos"] == 30 and seen["fleet"] == fleet["calls"]["sent"]
    assert result["machine"]["cores"] and result["machine"]["versions"]["pyzmq"]
    json.dumps(result)


def test_compare_flags_targets() -> None:
    rt = {"control": {"roboos": {"n": 1, "p50_us": 110.0, "p99_us": 900.0},
                      "zmq": {"n": 1, "p50_us": 100.0}, "websocket": {"n": 1, "p50_us": 120.0},
                      "grpc": {"n": 1, "p50_us": 200.0}}}
    row = compare(rt)["control"]
    assert row["within_20pct_of_zmq"] and row["not_slower_than_websocket_p50"] and row["2x_faster_than_grpc"] is False
    assert row["p99_within_limit"]


@pytest.mark.slow
def test_cli_quick_run_writes_json(tmp_path) -> None:
    from roboos.cli.main import app

    out = tmp_path / "channel.json"
    res = CliRunner().invoke(app, ["bench", "channel", "--quick", "--samples", "40", "--fleet-robots", "3",
                                   "--notes", "test", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data["round_trip"]["control"]) == {"roboos", "zmq", "websocket", "grpc"}
    assert data["notes"] == "test" and "Round trip" in res.output
    assert out.with_suffix(".png").stat().st_size > 0  # the picture next to the JSON


def test_cli_rejects_unknown_kind() -> None:
    from roboos.cli.main import app

    res = CliRunner().invoke(app, ["bench", "channel", "--kinds", "video"])
    assert res.exit_code != 0


def test_paired_ratios_cancel_a_noisy_round() -> None:
    # round 2 ran while the machine was busy: both transports slowed down alike, the pairs stay at 1.1
    rt = {"control": {"roboos": {"n": 3, "p50_us": 120.0, "p99_us": 900.0, "round_p50_us": [110.0, 330.0, 110.0]},
                      "zmq": {"n": 3, "p50_us": 100.0, "round_p50_us": [100.0, 300.0, 100.0]}}}
    row = compare(rt)["control"]
    assert abs(row["overhead_vs_zmq_p50_paired"] - 0.10) < 1e-9
    assert row["within_20pct_of_zmq"]
    rt["control"]["roboos"]["round_p50_us"] = [130.0, 390.0, 130.0]  # paired +30%: refused even if pooled passes
    assert not compare(rt)["control"]["within_20pct_of_zmq"]
