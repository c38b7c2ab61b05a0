"""quantize(): which layers are swapped (FlagScale recipe), group sizes, idempotence, module behaviour on CPU
(torch fallback), fusion, FlagGems absence."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from roboos.brain.quant.archs import build_model
from roboos.brain.quant.module import W8A16Linear
from roboos.brain.quant.quantize import DEFAULT_SKIP, matches, quantize, set_reference_mode
from roboos.brain.quant.reference import QuantizationError


@pytest.fixture()
def tiny():
    return build_model("tiny", torch.float32, seed=1)


def test_default_skips_vision_tower_and_lm_head(tiny):
    quantize(tiny)
    swapped = {n for n, m in tiny.named_modules() if isinstance(m, W8A16Linear)}
    plain = {n for n, m in tiny.named_modules() if type(m) is nn.Linear}
    assert swapped and all(".language_model.layers." in n for n in swapped)
    assert len(swapped) == 2 * 7                                   # 2 layers x (q k v o gate up down)
    assert "lm_head" in plain and all("visual" in n or n == "lm_head" for n in plain)
    assert set(tiny.w8a16["modules"]) == swapped
    assert tiny.w8a16["ignore"] == list(DEFAULT_SKIP)


def test_matches_uses_compressed_tensors_ignore_syntax():
    assert matches("lm_head", ["lm_head"])
    assert matches("model.visual.blocks.0.attn.qkv", ["re:.*visual.*"])
    assert matches("model.language_model.layers.3.mlp.down_proj", ["down_proj"])
    assert not matches("model.language_model.layers.3.mlp.down_proj", ["re:visual.*", "up_proj"])


def test_custom_skip_and_group_size(tiny):
    quantize(tiny, skip=["lm_head", "re:.*visual.*", "re:.*mlp.*"], group_size=32)
    swapped = [m for m in tiny.modules() if isinstance(m, W8A16Linear)]
    assert len(swapped) == 2 * 4 and all(m.group_size == 32 for m in swapped)
    assert tuple(swapped[0].weight_scale.shape) == (swapped[0].out_features, 64 // 32)


def test_layers_the_group_does_not_divide_stay_16_bit(tiny):
    quantize(tiny, group_size=128)  # hidden 64: no language layer is divisible -> all kept and listed
    assert not any(isinstance(m, W8A16Linear) for m in tiny.modules())
    assert "model.language_model.layers.0.self_attn.q_proj" in tiny.w8a16["ignore"]


def test_quantizing_twice_keeps_the_record(tiny):
    quantize(tiny)
    first = list(tiny.w8a16["modules"])
    quantize(tiny)
    assert tiny.w8a16["modules"] == first
    with pytest.raises(QuantizationError):
        quantize(tiny, skip=[], group_size=32)  # one model, one group size
    assert type(tiny.lm_head) is nn.Linear      # refused before anything was swapped


def test_cpu_forward_matches_fp32_reference(tiny):
    ids = torch.randint(0, 320, (1, 6))
    with torch.inference_mode():
        ref16 = tiny(input_ids=ids).logits
        quantize(tiny)
        out = tiny(input_ids=ids).logits           # CPU without the interpreter: dequantize + F.linear
        set_reference_mode(tiny, "fp32")
        ref = tiny(input_ids=ids).logits
    set_reference_mode(tiny, None)
    assert torch.isfinite(out).all()
    assert float((out - ref).norm() / ref.norm()) < 1e-5
    assert float((out - ref16).norm() / ref16.norm()) < 5e-2  # int8 rounding of random weights
    with pytest.raises(ValueError):
        set_reference_mode(tiny, "int4")


def test_from_linear_and_fusion_of_mismatched_modules():
    a, b = nn.Linear(64, 16), nn.Linear(64, 8, bias=False)
    qa, qb = W8A16Linear.from_linear(a), W8A16Linear.from_linear(b)
    x = torch.randn(3, 64)
    assert float((qa(x) - a(x)).detach().abs().max()) < 0.05
    assert W8A16Linear.fuse_group([qa, qb]) is None          # bias and no bias: not fused
    qc = W8A16Linear.from_linear(nn.Linear(64, 8))
    fused = W8A16Linear.fuse_group([qa, qc])
    outs = fused(x)
    assert [o.shape[-1] for o in outs] == [16, 8]
    assert torch.equal(outs[0], qa(x)) and torch.equal(outs[1], qc(x))
    assert qa.weight.data_ptr() == fused.weight.data_ptr()  # the originals are views of the fused buffer


def test_flaggems_absence_is_reported_cleanly():
    from roboos.brain.quant import flaggems
    if flaggems.available():
        pytest.skip("FlagGems is usable here")
    assert isinstance(flaggems.why(), str) and flaggems.why()
    with pytest.raises(RuntimeError, match="FlagGems unavailable"):
        flaggems.w8a16_linear(torch.randn(1, 8), torch.zeros(4, 8, dtype=torch.int8), torch.ones(4, 1))


def test_engine_fusion_before_and_after_quantize(tiny):
    from roboos.brain.engine.generator import FastGenerator

    ids = torch.randint(0, 320, (1, 5))
    FastGenerator(tiny, max_seq_len=32, max_batch_size=1).generate(ids, max_new_tokens=2)
    attn = tiny.model.language_model.layers[0].self_attn
    assert "_roboos_fused_qkv" in attn.__dict__          # the 16-bit fused buffer the engine keeps
    quantize(tiny)
    assert "_roboos_fused_qkv" not in attn.__dict__      # dropped with the layers it fused
    engine = FastGenerator(tiny, max_seq_len=32, max_batch_size=1)
    assert engine.fused_groups == 4                      # W8A16 q/k/v and gate/up fused through fuse_group
    out = engine.generate(ids, max_new_tokens=3)
    assert len(out.tokens[0]) == 3
