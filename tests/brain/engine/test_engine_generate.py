"""FastGenerator against transformers' own generate on tiny random models (float32, CPU)."""

from __future__ import annotations

import pytest
import torch
from roboos.brain.engine import EngineCapacityError, FastGenerator, SamplingParams, UnsupportedModelError
from roboos.brain.engine.bench import build_model, check_step_logits
from torch import nn


@pytest.fixture(scope="module")
def vl_model():
    return build_model("tiny", "cpu", torch.float32)


def hf_greedy(model, ids, mask, n, **extra):
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                         eos_token_id=None, pad_token_id=0, **extra)
    return out[:, ids.shape[1]:].tolist()


def test_greedy_matches_transformers_with_left_padding(vl_model):
    torch.manual_seed(1)
    ids = torch.randint(0, 1000, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0
    mask[2, :7] = 0
    gen = FastGenerator(vl_model, max_seq_len=64, max_batch_size=4)
    out = gen.generate(ids, mask, max_new_tokens=10)
    assert out.tokens == hf_greedy(vl_model, ids, mask, 10)
    assert out.finish_reasons == ["length"] * 3
    assert out.prompt_tokens == 12


def test_image_prompt_matches_transformers(vl_model):
    """M-RoPE positions after an image (rope deltas) must continue exactly as transformers does."""
    cfg = vl_model.config
    grid = torch.tensor([[1, 4, 6]])  # 24 patches -> 6 image tokens after 2x2 merge
    n_img = int(grid.prod() // 4)
    text = torch.randint(0, 900, (1, 5))
    ids = torch.cat([text, torch.tensor([[cfg.vision_start_token_id] + [cfg.image_token_id] * n_img
                                         + [cfg.vision_end_token_id]]), torch.randint(0, 900, (1, 4))], dim=1)
    mask = torch.ones_like(ids)
    patch_dim = 3 * cfg.vision_config.temporal_patch_size * cfg.vision_config.patch_size ** 2
    extra = {"pixel_values": torch.randn(int(grid.prod()), patch_dim), "image_grid_thw": grid,
             "mm_token_type_ids": (ids == cfg.image_token_id).to(torch.int32)}
    gen = FastGenerator(vl_model, max_seq_len=64, max_batch_size=1)
    got = gen.generate(ids, mask, max_new_tokens=8, model_inputs=extra).tokens
    assert got == hf_greedy(vl_model, ids, mask, 8, **extra)


def test_stream_and_stop_tokens(vl_model):
    torch.manual_seed(2)
    ids = torch.randint(0, 1000, (2, 8))
    gen = FastGenerator(vl_model, max_seq_len=64, max_batch_size=2)
    full = gen.generate(ids, max_new_tokens=6).tokens
    stop = full[0][2]
    steps = list(gen.stream(ids, max_new_tokens=6, stop_token_ids=[stop]))
    final = steps.pop()
    assert final.tokens[0] == full[0][: full[0].index(stop)] and final.finish_reasons[0] == "stop"
    assert [s[0] for s in steps][: full[0].index(stop) + 1] == full[0][: full[0].index(stop) + 1]
    assert all(s[0] is None for s in steps[full[0].index(stop) + 1:])


def test_sampling_is_seeded_and_respects_top_k(vl_model):
    ids = torch.randint(0, 1000, (2, 8))
    gen = FastGenerator(vl_model, max_seq_len=64, max_batch_size=2)
    params = SamplingParams(temperature=1.0, top_k=1, seed=3)
    greedy = gen.generate(ids, max_new_tokens=6).tokens
    assert gen.generate(ids, max_new_tokens=6, sampling=params).tokens == greedy  # top-1 == greedy
    hot = [SamplingParams(temperature=1.5, seed=5), SamplingParams(temperature=1.5, seed=5)]
    assert gen.generate(ids, max_new_tokens=6, sampling=hot).tokens == gen.generate(
        ids, max_new_tokens=6, sampling=hot).tokens
    with pytest.raises(ValueError):
        SamplingParams(top_p=0.0)


def test_capacity_and_padding_errors(vl_model):
    gen = FastGenerator(vl_model, max_seq_len=16, max_batch_size=1)
    with pytest.raises(EngineCapacityError):
        gen.generate(torch.zeros(1, 12, dtype=torch.long), max_new_tokens=8)
    with pytest.raises(EngineCapacityError):
        gen.generate(torch.zeros(2, 4, dtype=torch.long), max_new_tokens=2)
    with pytest.raises(ValueError, match="left-padded"):
        gen.generate(torch.zeros(1, 4, dtype=torch.long), torch.tensor([[1, 1, 0, 0]]), max_new_tokens=2)


def test_step_logits_equal_transformers_forward(vl_model):
    gen = FastGenerator(vl_model, max_seq_len=64, max_batch_size=2)
    report = check_step_logits(vl_model, gen, torch.randint(0, 1000, (2, 10)))
    assert report["engine_eager_rel_err"] < 1e-4 and report["engine_eager_argmax_ok"]


class OffsetLinear(nn.Module):
    """A drop-in Linear replacement (as a quantizer would install): stores W + 1 and subtracts it back."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.shifted = nn.Parameter(linear.weight.detach() + 1.0, requires_grad=False)
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.shifted - 1.0, self.bias)


def test_swapped_linear_modules_run_through_the_engine():
    model = build_model("tiny", "cpu", torch.float32)
    layer = model.model.language_model.layers[0]
    for owner, names in ((layer.self_attn, ("q_proj", "k_proj", "v_proj", "o_proj")),
                         (layer.mlp, ("gate_proj", "up_proj", "down_proj"))):
        for name in names:
            setattr(owner, name, OffsetLinear(getattr(owner, name)))
    ids = torch.randint(0, 1000, (1, 9))
    gen = FastGenerator(model, max_seq_len=32, max_batch_size=1)
    assert gen.parts.layers[0].qkv is None and gen.parts.layers[1].qkv is not None
    assert gen.generate(ids, max_new_tokens=6).tokens == hf_greedy(model, ids, torch.ones_like(ids), 6)


def test_plain_causal_lm_and_unsupported_models():
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    qwen = Qwen2ForCausalLM(Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=300)).eval()
    ids = torch.randint(0, 300, (2, 7))
    gen = FastGenerator(qwen, max_seq_len=32, max_batch_size=2)
    assert gen.generate(ids, max_new_tokens=5).tokens == hf_greedy(qwen, ids, torch.ones_like(ids), 5)
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=100)).eval()
    with pytest.raises(UnsupportedModelError):
        FastGenerator(gpt2)


@pytest.mark.slow
def test_triton_kernels_in_interpreter_match_references(monkeypatch):
    """The Triton kernels themselves (through Triton's CPU interpreter) against the torch references."""
    pytest.importorskip("triton")
    import os
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from roboos.brain.engine.bench import build_model\n"
        "from roboos.brain.engine.generator import FastGenerator\n"
        "m = build_model('tiny', 'cpu', torch.float32)\n"
        "ids = torch.randint(0, 1000, (2, 10))\n"
        "ref = m.generate(input_ids=ids, max_new_tokens=6, min_new_tokens=6, do_sample=False, eos_token_id=None,"
        " pad_token_id=0)[:, 10:].tolist()\n"
        "assert FastGenerator(m, max_seq_len=32, max_batch_size=2).generate(ids, max_new_tokens=6).tokens == ref\n"
        "print('ok')\n")
    env = dict(os.environ, TRITON_INTERPRET="1", ROBOOS_ENGINE_TRITON="interpret")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
