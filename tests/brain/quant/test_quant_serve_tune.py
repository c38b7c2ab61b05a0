"""Deployment auto-tuner: choice and dominance rules, a CPU search on the tiny model, the YAML it writes loads
as ServerSettings; CLI commands refuse cleanly without a GPU."""

from __future__ import annotations

import pytest
import torch
import yaml
from typer.testing import CliRunner

from roboos.brain.quant.serve_tune import (LoadSpec, ServeCandidate, ServeMeasurement, choose, mark_dominated,
                                           search, tuned_settings, write_yaml)


def _m(quant, bsz, tps, p95, seq=4096, error=None):
    return ServeMeasurement(ServeCandidate(quant, bsz, True, seq), tokens_per_s=tps, latency_p95_ms=p95,
                            error=error)


def test_choice_rules():
    rows = [_m("none", 1, 160, 800), _m("w8a16", 1, 260, 500), _m("w8a16", 8, 900, 3000),
            _m("w8a16", 4, 890, 1500), _m("w8a16", 2, 0, 0, error="OOM")]
    assert choose(rows).candidate.max_batch_size == 4          # within 3 % of the best: lower latency wins
    assert choose(rows, latency_slo_ms=600).candidate == ServeCandidate("w8a16", 1, True, 4096)
    assert choose(rows, latency_slo_ms=1).candidate.max_batch_size == 4  # nothing meets it: best overall
    mark_dominated(rows)
    assert rows[0].dominated and not rows[1].dominated and not rows[2].dominated
    with pytest.raises(RuntimeError):
        choose([_m("none", 1, 0, 0, error="boom")])


def test_larger_kv_cache_kept_when_equal():
    rows = [_m("w8a16", 1, 100, 500, seq=2048), _m("w8a16", 1, 101, 505, seq=4096)]
    assert choose(rows).candidate.max_seq_len == 4096


def test_cpu_search_writes_a_valid_serve_config(tmp_path):
    from roboos.brain.quant.archs import build_model
    from roboos.brain.server.settings import ServerSettings
    from roboos.config import validate

    model = build_model("tiny", torch.float32)
    load = LoadSpec(requests=2, prompt_len=6, new_tokens=3)
    results, best = search(model, load, ["none", "w8a16"], [1, 2], [64, 96], [False])
    assert {r.candidate.quant for r in results} == {"none", "w8a16"}
    assert all(r.error is None for r in results)
    assert best in results and best.tokens_per_s > 0 and best.latency_p95_ms >= best.latency_p50_ms
    settings = tuned_settings(best, "/models/RoboBrain2.0-7B", load)
    path = tmp_path / "brain.yaml"
    write_yaml(path, settings, results, {"gpu": "cpu"})
    data = yaml.safe_load(path.read_text())
    parsed = validate(ServerSettings, data, str(path))
    assert parsed.max_batch_size == best.candidate.max_batch_size and parsed.quant == best.candidate.quant
    assert parsed.use_cuda_graph is False and parsed.default_max_tokens == 3
    assert path.read_text().startswith("# Tuned by `roboos tune brain`")


def test_seq_len_too_small_is_an_error_not_a_crash():
    from roboos.brain.quant.archs import build_model
    results, best = search(build_model("tiny", torch.float32), LoadSpec(2, 30, 5), ["none"], [1], [16, 64],
                           [False])
    assert any(r.error and "exceed" in r.error for r in results)
    assert best.candidate.max_seq_len == 64


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU refusal")
@pytest.mark.parametrize("args", [["tune", "kernels", "--model", "random:tiny"], ["bench", "w8a16"],
                                  ["tune", "brain", "--model", "random:tiny"]])
def test_gpu_commands_refuse_without_cuda(args):
    from roboos.cli.main import app
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "GPU" in result.output


def test_tune_brain_cli_on_cpu(tmp_path):
    from roboos.cli.main import app
    out, report = tmp_path / "t.yaml", tmp_path / "t.json"
    result = CliRunner().invoke(app, ["tune", "brain", "--model", "random:tiny", "--device", "cpu", "--quant",
                                      "w8a16", "--requests", "2", "--prompt-len", "5", "--new-tokens", "2",
                                      "--batch-sizes", "1", "--seq-lens", "16", "--out", str(out), "--report",
                                      str(report)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["quant"] == "w8a16"
    assert report.is_file()
    bad = CliRunner().invoke(app, ["tune", "brain", "--model", "random:huge", "--device", "cpu"])
    assert bad.exit_code != 0
