"""The asyncio-floor diagnostic runs every caller/echo pair in separate processes and reports all four."""

from __future__ import annotations

import pytest

from roboos.bench.channel_floor import run_floor


@pytest.mark.timeout(120)
def test_floor_measures_the_four_caller_echo_pairs() -> None:
    result = run_floor(samples=20, rounds=1)
    assert set(result["pairs"]) == {"blocking/blocking", "blocking/asyncio", "asyncio/blocking", "asyncio/asyncio"}
    for row in result["pairs"].values():
        assert 0 < row["p50_us"] <= row["p99_us"]
    assert result["pairs"]["blocking/blocking"]["vs_blocking_pct"] == 0.0


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        run_floor(samples=0)
