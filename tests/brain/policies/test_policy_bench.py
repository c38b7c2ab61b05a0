"""The benchmark's orchestration on CPU with the tiny config (a smoke test, not a measurement)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_bench_document_on_cpu(tmp_path):
    from roboos.brain.policies.bench import print_table, run_policy_bench

    doc = run_policy_bench(
        cameras=(1, 2),
        iters=1,
        eager_iters=1,
        compile=False,
        w8a16=True,
        preset_name="tiny",
        device="cpu",
        log=lambda _m: None,
        budget_s=600,
    )
    json.dumps(doc)  # serialisable
    variants = {(r["variant"], r["cameras"]) for r in doc["results"]}
    assert {("eager_bf16", 1), ("eager_bf16", 2), ("graph_bf16", 1)} <= variants
    for row in doc["results"]:
        assert row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"] and row["speedup_vs_eager"] > 0
    graph = next(r for r in doc["results"] if r["variant"] == "graph_bf16")
    assert graph["rel_err_vs_eager"] < 1e-4  # fused projections compute the same function
    w8 = [r for r in doc["results"] if "w8a16" in r["variant"]]
    assert w8 or any("W8A16" in n for n in doc["notes"])  # measured, or why not
    assert doc["machine"]["gpu"] == "cpu" and doc["versions"]["torch"]
    print_table(doc)
