"""W8A16 under torch.compile (one graph through the custom op) and the small-M GEMM candidate sets."""

from __future__ import annotations

import pytest
import torch

from roboos.brain.quant.bench_gemm_small import SHAPES_PI0_EXPERT, cases, main
from roboos.brain.quant.configs import KernelConfig
from roboos.brain.quant.pretune import SMEM_BUDGET, candidates, small_m_gemm_candidates


def test_compiled_w8a16_traces_as_one_graph():
    from roboos.brain.quant.module import W8A16Linear

    torch.manual_seed(0)
    layer = W8A16Linear.from_linear(torch.nn.Linear(64, 48))
    x = torch.randn(2, 5, 64)
    fn = torch.compile(lambda t: torch.nn.functional.gelu(layer(t)) * 2, backend="aot_eager", fullgraph=True)
    assert torch.allclose(fn(x), torch.nn.functional.gelu(layer(x)) * 2)
    assert torch.ops.roboos.w8a16_matmul(x, layer.weight, layer.weight_scale, layer.bias, 0).shape == (2, 5, 48)


@pytest.mark.parametrize("m,n,k", [(4, 4608, 3584), (16, 3584, 18944), (64, 37888, 3584)]
                         + [(50, n, k) for n, k in SHAPES_PI0_EXPERT.values()])
def test_small_m_candidates(m, n, k):
    cands = small_m_gemm_candidates(m, n, k)
    assert 20 <= len(cands) <= 120 and len(cands) == len(set(cands))
    for c in cands:
        assert isinstance(c, KernelConfig) and c.kind == "gemm"
        assert c.block_m <= max(16, 1 << (m - 1).bit_length()) and c.block_k <= k
        assert c.num_stages * (c.block_m * c.block_k * 2 + c.block_k * c.block_n) <= SMEM_BUDGET
        assert c.split_k == 1 or k // (c.block_k * c.split_k) >= 1
    assert any(c.split_k > 1 for c in cands)  # few output tiles: a split over K fills the SMs
    assert set(cands) <= set(candidates(m, n, k))  # PreTune tries them too


def test_gemm_small_dry_run(capsys):
    main(["--dry-run"])
    out = capsys.readouterr().out
    assert out.count("candidates") == len(cases()) and "pi0_expert_down M=50" in out


def test_committed_h100_serving_yaml_validates():
    from pathlib import Path

    from roboos.brain.server.settings import ServerSettings
    from roboos.config import read_yaml, validate

    path = Path(__file__).resolve().parents[3] / "configs" / "tuned" / "brain-nvidia-h100-80gb-hbm3.yaml"
    data = read_yaml(path)
    settings = validate(ServerSettings, {**data, "model": "/models/RoboBrain2.0-7B"}, str(path))  # --model on the CLI
    assert settings.quant == data["quant"] and settings.max_batch_size == data["max_batch_size"] >= 1
