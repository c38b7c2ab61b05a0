"""compressed-tensors checkpoints: our save/load round trip, our files read by the compressed-tensors package,
and a checkpoint written the way llm-compressor writes one (the package's own compressor) read by our loader."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from roboos.brain.quant.archs import build_model
from roboos.brain.quant.checkpoint import CheckpointError, load_quantized, read_quantization_config, save_quantized
from roboos.brain.quant.module import W8A16Linear
from roboos.brain.quant.quantize import quantize
from roboos.brain.quant.reference import dequantize_weight, quantize_weight

ct = pytest.importorskip("compressed_tensors")
from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor  # noqa: E402
from compressed_tensors.quantization import QuantizationArgs, QuantizationConfig, QuantizationScheme  # noqa: E402


@pytest.fixture(scope="module")
def tiny_quantized():
    return quantize(build_model("tiny", torch.bfloat16, seed=3))


def _logits(model, ids):
    with torch.inference_mode():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("fmt", ["pack-quantized", "int-quantized"])
def test_round_trip(tmp_path, tiny_quantized, fmt):
    save_quantized(tiny_quantized, tmp_path, fmt)
    loaded = load_quantized(tmp_path)
    a, b = tiny_quantized.state_dict(), loaded.state_dict()
    assert set(a) == set(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert loaded.w8a16["modules"] == tiny_quantized.w8a16["modules"]
    ids = torch.randint(0, 320, (1, 7))
    assert torch.equal(_logits(tiny_quantized, ids), _logits(loaded, ids))


def test_saved_checkpoint_reads_with_compressed_tensors(tmp_path, tiny_quantized):
    save_quantized(tiny_quantized, tmp_path, "pack-quantized")
    config = json.loads((tmp_path / "config.json").read_text())
    qcfg = QuantizationConfig.model_validate(config["quantization_config"])
    assert qcfg.quant_method == "compressed-tensors" and qcfg.format == "pack-quantized"
    scheme = next(iter(qcfg.config_groups.values()))
    assert scheme.weights.num_bits == 8 and scheme.weights.symmetric and scheme.weights.strategy == "channel"
    assert scheme.input_activations is None and "lm_head" in qcfg.ignore
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        prefix = "model.layers.0.mlp.down_proj"  # transformers' checkpoint layout, as llm-compressor saves it
        assert {f"{prefix}.weight_packed", f"{prefix}.weight_scale", f"{prefix}.weight_shape"} <= keys
        assert "lm_head.weight" in keys and not any(k.startswith("visual.") and "packed" in k for k in keys)
        local = {"weight_packed": f.get_tensor(f"{prefix}.weight_packed"),
                 "weight_scale": f.get_tensor(f"{prefix}.weight_scale"),
                 "weight_shape": f.get_tensor(f"{prefix}.weight_shape")}
    weight = PackedQuantizationCompressor.decompress(local, scheme)["weight"]
    module = tiny_quantized.model.language_model.layers[0].mlp.down_proj
    assert torch.equal(weight.float(), module.dequantized(torch.float32).to(weight.dtype).float())


def _llm_compressor_style_checkpoint(directory, group_size: int):
    """A tiny Qwen2.5-VL saved as llm-compressor saves W8A16: compressed by the compressed-tensors package,
    legacy key layout, ``ignore`` written against checkpoint names."""
    from transformers.core_model_loading import revert_weight_conversion

    model = build_model("tiny", torch.bfloat16, seed=5)
    strategy = "group" if group_size else "channel"
    args = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy=strategy, group_size=group_size or None)
    scheme = QuantizationScheme(targets=["Linear"], weights=args)
    state = {}
    expected = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and "visual" not in name and name != "lm_head":
            _, scale = quantize_weight(mod.weight, group_size)
            packed = PackedQuantizationCompressor.compress({"weight": mod.weight.detach(), "weight_scale": scale}, scheme)
            state.update({f"{name}.{k}": v for k, v in packed.items()})
            expected[name] = PackedQuantizationCompressor.decompress(packed, scheme)["weight"]
            if mod.bias is not None:
                state[f"{name}.bias"] = mod.bias.detach().clone()
    for key, tensor in model.state_dict().items():
        if key.rpartition(".")[0] not in expected:
            state[key] = tensor.clone()
    state = dict(revert_weight_conversion(model, state))
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    qcfg = QuantizationConfig(config_groups={"group_0": scheme}, format="pack-quantized",
                              quantization_status="compressed", ignore=["lm_head", "re:visual.*"])
    config = model.config.to_dict()
    config["architectures"] = ["Qwen2_5_VLForConditionalGeneration"]
    config["quantization_config"] = qcfg.model_dump(mode="json")
    (directory / "config.json").write_text(json.dumps(config))
    return expected


@pytest.mark.parametrize("group_size", [0, 32])
def test_loads_llm_compressor_style_checkpoint(tmp_path, group_size):
    expected = _llm_compressor_style_checkpoint(tmp_path, group_size)
    model = load_quantized(tmp_path)
    quantized = {n: m for n, m in model.named_modules() if isinstance(m, W8A16Linear)}
    assert set(quantized) == set(expected)          # visual tower and lm_head stayed 16-bit
    for name, mod in quantized.items():
        assert mod.group_size == group_size
        assert torch.equal(mod.dequantized(torch.float32).to(torch.bfloat16), expected[name])
    assert type(model.lm_head) is torch.nn.Linear
    ids = torch.randint(0, 320, (1, 5))
    assert torch.isfinite(_logits(model, ids)).all()


@pytest.mark.parametrize("patch,message", [
    (lambda q: q.pop("quantization_config"), "no compressed-tensors"),
    (lambda q: q["quantization_config"].update(format="float-quantized"), "format"),
    (lambda q: q["quantization_config"]["config_groups"]["group_0"].update(
        input_activations={"num_bits": 8, "type": "int"}), "only W8A16"),
    (lambda q: q["quantization_config"]["config_groups"]["group_0"]["weights"].update(num_bits=4), "only W8A16"),
    (lambda q: q["quantization_config"]["config_groups"]["group_0"]["weights"].update(strategy="tensor"), "strategy"),
])
def test_unsupported_checkpoints_are_rejected(tmp_path, tiny_quantized, patch, message):
    save_quantized(tiny_quantized, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    patch(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        read_quantization_config(tmp_path)


def test_missing_or_foreign_tensors_are_reported(tmp_path, tiny_quantized):
    save_quantized(tiny_quantized, tmp_path)
    path = tmp_path / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    save_file({k: v for k, v in state.items() if not k.endswith("o_proj.weight_scale")}, str(path))
    with pytest.raises(CheckpointError, match="missing"):
        load_quantized(tmp_path)
    save_file({**state, "model.layers.0.mystery": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="no place"):
        load_quantized(tmp_path)


def test_group_scales_dequantize_like_the_reference():
    q, s = quantize_weight(torch.randn(8, 64), 32, torch.bfloat16)
    assert torch.allclose(dequantize_weight(q, s), q.float().view(8, 2, 32).mul(s.float()[..., None]).view(8, 64))
