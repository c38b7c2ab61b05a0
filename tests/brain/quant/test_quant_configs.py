"""PreTune table: config validation, JSON round trip, bucket lookup, heuristic fallback, committed table."""

from __future__ import annotations

import json

import pytest

from roboos.brain.quant.configs import (M_BUCKETS, TABLE_DIR, ConfigTable, ConfigTableError, KernelConfig,
                                        gpu_slug, heuristic_config, load_table, m_bucket, select_config,
                                        shape_key, table_for_gpu, table_path)
from roboos.brain.quant.pretune import candidates, model_linear_shapes

SHAPES_7B = [(4608, 3584), (3584, 3584), (37888, 3584), (3584, 18944)]


def test_buckets_and_slug():
    assert [m_bucket(m) for m in (1, 2, 3, 5, 16, 17, 512, 4096)] == [1, 2, 4, 8, 16, 32, 512, 512]
    assert gpu_slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    with pytest.raises(ConfigTableError):
        gpu_slug("  ")


@pytest.mark.parametrize("bad", [dict(kind="cutlass"), dict(block_n=48), dict(block_k=0), dict(num_warps=3),
                                 dict(kind="gemm", block_m=8), dict(split_k=True)])
def test_invalid_configs_rejected(bad):
    with pytest.raises(ConfigTableError):
        KernelConfig(**{**KernelConfig().to_dict(), **bad})


def test_table_round_trip_and_lookup(tmp_path):
    gemv = KernelConfig("gemv", 1, 4, 4096, 1, 1, 8, 2)
    gemm = KernelConfig("gemm", 16, 64, 256, 2, 8, 4, 3)
    big = KernelConfig("gemm", 128, 128, 64, 1, 8, 8, 3)
    key = shape_key(4608, 3584, 0, "bfloat16")
    table = ConfigTable("NVIDIA Test GPU", {key: {1: gemv, 16: gemm, 512: big}},
                        {"triton": "x", "timings": {key: {"1": {"time_us": 7.0, "gbps": 2400.0}}}})
    path = table.save(tmp_path / "t.json")
    data = json.loads(path.read_text())
    assert data["entries"][key]["1"]["time_us"] == 7.0
    loaded = load_table(path)
    assert loaded.lookup(1, 4608, 3584, 0, "bfloat16") == gemv
    assert loaded.lookup(4, 4608, 3584, 0, "bfloat16") == gemm       # nearest tuned bucket above
    assert loaded.lookup(9999, 4608, 3584, 0, "bfloat16") == big
    assert loaded.lookup(1, 4608, 3584, 128, "bfloat16") is None      # other group size: not in the table
    cfg, source = select_config(1, 100, 200, 0, "bfloat16", loaded)
    assert source == "heuristic" and cfg == heuristic_config(1, 100, 200)
    assert select_config(1, 4608, 3584, 0, "bfloat16", loaded) == (gemv, "table")


@pytest.mark.parametrize("data", [[], {"gpu": 1, "entries": {}}, {"gpu": "x"},
                                  {"gpu": "x", "entries": {"../etc": {}}},
                                  {"gpu": "x", "entries": {"n1_k1_g0_bfloat16": {"1": {"kind": "gemv", "evil": 1}}}},
                                  {"gpu": "x", "entries": {"n1_k1_g0_bfloat16": {"one": {"kind": "gemv"}}}}])
def test_malformed_tables_rejected(data):
    with pytest.raises(ConfigTableError):
        ConfigTable.from_json(data)


def test_unreadable_table_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigTableError):
        load_table(tmp_path / "bad.json")


@pytest.mark.parametrize("m", [1, 2, 7, 16, 40, 100, 512, 3000])
@pytest.mark.parametrize("n,k", SHAPES_7B + [(1000, 999)])
@pytest.mark.parametrize("group", [0, 128])
def test_heuristic_always_gives_a_valid_config(m, n, k, group):
    if group and k % group:
        pytest.skip("group must divide K")
    cfg = heuristic_config(m, n, k, group)
    assert cfg.kind == ("gemv" if m == 1 else "gemm")
    if group:
        assert cfg.block_k % group == 0
    assert cfg in candidates(m, n, k, group)


def test_model_shapes_of_the_7b_config():
    from roboos.brain.quant.archs import robobrain_config
    assert model_linear_shapes(robobrain_config("7b")) == SHAPES_7B


def test_committed_h100_table_covers_the_7b_shapes():
    path = table_path("NVIDIA H100 80GB HBM3")
    assert path.parent == TABLE_DIR
    if not path.is_file():
        pytest.skip("no H100 table committed yet")
    table = table_for_gpu("NVIDIA H100 80GB HBM3")
    for n, k in SHAPES_7B:
        for b in M_BUCKETS:
            assert table.lookup(b, n, k, 0, "bfloat16") is not None


def test_benchmark_picture_from_committed_result(tmp_path):
    pytest.importorskip("matplotlib")
    from roboos.brain.quant.plot import plot_results
    result = TABLE_DIR.parents[1] / "benchmarks" / "results" / "w8a16-nvidia-h100-80gb-hbm3.json"
    if not result.is_file():
        pytest.skip("no committed H100 result")
    png = plot_results(result, tmp_path / "w8a16.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
