"""Save and load W8A16 models in the compressed-tensors format (what llm-compressor writes and vLLM reads).

``config.json`` carries ``quantization_config`` (``quant_method: compressed-tensors``) with one config group:
8-bit symmetric int weights, ``strategy`` ``channel`` (or ``group`` with ``group_size``), no activation
quantization, targets ``["Linear"]``, and the ``ignore`` list of modules kept in 16 bits. Tensors:

* ``pack-quantized`` (llm-compressor's choice for W8A16, the one vLLM serves): ``<m>.weight_packed``
  (int32, four int8 values offset by 128 per word), ``<m>.weight_scale``, ``<m>.weight_shape``;
* ``int-quantized`` / ``naive-quantized``: ``<m>.weight`` (int8) and ``<m>.weight_scale``.

Keys are saved in the checkpoint layout transformers itself writes (``model.layers.*``, ``visual.*`` for
Qwen2.5-VL) and mapped back to module names on load, so published checkpoints load too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from roboos.brain.quant.module import W8A16Linear
from roboos.brain.quant.quantize import quantize

FORMATS = ("pack-quantized", "int-quantized", "naive-quantized")
_LEGACY_RENAMES = [(r"^visual", "model.visual"), (r"^model(?!\.(language_model|visual))", "model.language_model")]


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or uses a quantization scheme this loader does not run."""


def quantization_config(model: nn.Module, fmt: str = "pack-quantized") -> dict:
    """The ``quantization_config`` dict for a model quantized by :func:`quantize`."""
    info = getattr(model, "w8a16", None)
    if info is None:
        raise CheckpointError("model was not quantized with roboos.brain.quant.quantize")
    if fmt not in FORMATS:
        raise CheckpointError(f"format {fmt!r} not in {FORMATS}")
    g = int(info["group_size"])
    weights = {"num_bits": 8, "type": "int", "symmetric": True, "dynamic": False,
               "strategy": "group" if g else "channel", "group_size": g or None}
    cfg = {"config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": None,
                                         "output_activations": None}},
           "quant_method": "compressed-tensors", "format": fmt, "quantization_status": "compressed",
           "ignore": list(info["ignore"]), "kv_cache_scheme": None}
    try:  # validate (and normalise) with the compressed-tensors package when it is installed
        from compressed_tensors.quantization import QuantizationConfig
        cfg = {**QuantizationConfig.model_validate(cfg).model_dump(mode="json"), "quant_method": "compressed-tensors"}
    except ImportError:
        pass
    return cfg


def _pack(q: torch.Tensor) -> torch.Tensor:
    try:
        from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32
        return pack_to_int32(q, 8)
    except ImportError:  # same layout: value + 128, four per int32, little-endian
        u = (q.to(torch.int32) + 128)
        pad = (-u.shape[1]) % 4
        u = torch.nn.functional.pad(u, (0, pad)).view(u.shape[0], -1, 4)
        return (u[..., 0] | (u[..., 1] << 8) | (u[..., 2] << 16) | (u[..., 3] << 24)).contiguous()


def _unpack(packed: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    try:
        from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
        return unpack_from_int32(packed, 8, torch.Size(shape))
    except ImportError:
        parts = [(packed >> s) & 0xFF for s in (0, 8, 16, 24)]
        return (torch.stack(parts, -1).view(packed.shape[0], -1)[:, : shape[1]] - 128).to(torch.int8)


def _revert_keys(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    try:
        from transformers.core_model_loading import revert_weight_conversion
        return dict(revert_weight_conversion(model, state))
    except Exception:  # older/newer transformers without it: module names are a valid layout too
        return state


def compressed_state_dict(model: nn.Module, fmt: str = "pack-quantized") -> dict[str, torch.Tensor]:
    """The model's tensors with W8A16 layers in compressed-tensors form (CPU, contiguous, unshared)."""
    state: dict[str, torch.Tensor] = {}
    w8_prefixes = set()
    for name, mod in model.named_modules():
        if isinstance(mod, W8A16Linear):
            w8_prefixes.add(name)
            q = mod.weight.detach().cpu()
            if fmt == "pack-quantized":
                state[f"{name}.weight_packed"] = _pack(q)
                state[f"{name}.weight_shape"] = torch.tensor(list(q.shape), dtype=torch.int64)
            else:
                state[f"{name}.weight"] = q.clone()
            state[f"{name}.weight_scale"] = mod.weight_scale.detach().cpu().clone()
            if mod.bias is not None:
                state[f"{name}.bias"] = mod.bias.detach().cpu().clone()
    for key, tensor in model.state_dict().items():
        owner = key.rpartition(".")[0]
        if owner in w8_prefixes:
            continue
        state[key] = tensor.detach().cpu().clone().contiguous()
    return state


def save_quantized(model: nn.Module, directory: str | Path, fmt: str = "pack-quantized",
                   max_shard_size: str = "5GB") -> Path:
    """Write ``config.json`` (with ``quantization_config``) and safetensors shards into ``directory``."""
    from huggingface_hub import split_torch_state_dict_into_shards
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    qcfg = quantization_config(model, fmt)
    config = model.config.to_dict()
    config["quantization_config"] = qcfg
    config["architectures"] = config.get("architectures") or [type(model).__name__]
    (directory / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")
    state = _revert_keys(model, compressed_state_dict(model, fmt))
    split = split_torch_state_dict_into_shards(state, max_shard_size=max_shard_size)
    for filename, keys in split.filename_to_tensors.items():
        save_file({k: state[k] for k in keys}, str(directory / filename), metadata={"format": "pt"})
    if split.is_sharded:
        index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in state.values())},
                 "weight_map": split.tensor_to_filename}
        (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return directory


def read_quantization_config(directory: str | Path) -> tuple[dict, dict]:
    """``(config.json dict, validated W8A16 settings {format, group_size, ignore})``."""
    path = Path(directory) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    q = config.get("quantization_config")
    if not isinstance(q, dict) or q.get("quant_method") != "compressed-tensors":
        raise CheckpointError(f"{path}: no compressed-tensors quantization_config")
    fmt = q.get("format")
    if fmt not in FORMATS:
        raise CheckpointError(f"{path}: format {fmt!r} is not one of {FORMATS}")
    groups = q.get("config_groups") or {}
    if len(groups) != 1:
        raise CheckpointError(f"{path}: expected one config group, found {len(groups)}")
    group = next(iter(groups.values()))
    w = group.get("weights") or {}
    if group.get("input_activations") or w.get("num_bits") != 8 or w.get("type") != "int" \
            or not w.get("symmetric", True) or w.get("dynamic"):
        raise CheckpointError(f"{path}: only W8A16 (8-bit symmetric int weights, 16-bit activations) is supported")
    strategy = w.get("strategy")
    if strategy not in ("channel", "group"):
        raise CheckpointError(f"{path}: weight strategy {strategy!r} (channel or group) not supported")
    g = int(w.get("group_size") or 0) if strategy == "group" else 0
    if strategy == "group" and g <= 0:
        raise CheckpointError(f"{path}: group strategy without a group_size")
    targets = group.get("targets") or []
    if any(t not in ("Linear", "re:.*Linear", "torch.nn.Linear") for t in targets):
        raise CheckpointError(f"{path}: targets {targets} (only Linear) not supported")
    return config, {"format": fmt, "group_size": g, "ignore": list(q.get("ignore") or [])}


def _renamer(model: nn.Module) -> Callable[[str], str]:
    rules = list(_LEGACY_RENAMES)
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import WeightRenaming
        rules = [(s, t) for r in get_model_conversion_mapping(model) if type(r) is WeightRenaming
                 for s, t in zip(r.source_patterns, r.target_patterns)] or rules
    except Exception:
        pass
    compiled = [(re.compile(s), t) for s, t in rules]

    def rename(key: str) -> str:
        for pattern, target in compiled:
            if pattern.search(key):
                key = pattern.sub(target, key, count=1)
        return key
    return rename


def _iter_checkpoint(directory: Path):
    from safetensors import safe_open

    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{directory}: no .safetensors files")
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                yield key, f.get_tensor(key)


def load_quantized(directory: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
                   model_class: type | None = None) -> nn.Module:
    """Build the model of ``directory``'s config, swap in W8A16 layers, and load the compressed tensors."""
    import transformers
    from transformers import AutoConfig
    from transformers.initialization import no_init_weights

    directory = Path(directory)
    raw, q = read_quantization_config(directory)
    config = AutoConfig.from_pretrained(str(directory))
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # we apply the quantization ourselves
    if model_class is None:
        arch = (raw.get("architectures") or [None])[0]
        model_class = getattr(transformers, arch, None) if arch else None
        if model_class is None:
            raise CheckpointError(f"{directory}: unknown architecture {arch!r}")
    dtype = dtype or getattr(config, "dtype", None) or torch.bfloat16
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    with no_init_weights(), torch.device(device):
        model = model_class._from_config(config, dtype=dtype)
    quantize(model, skip=q["ignore"] + _ignored_by_checkpoint_name(model, q["ignore"]),
             group_size=q["group_size"], structure_only=True)
    model.w8a16["ignore"] = q["ignore"]
    rename = _renamer(model)
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    modules = dict(model.named_modules())
    loaded: set[str] = set()
    packed: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in _iter_checkpoint(directory):
        name = key if (key in params or key in buffers or key.rpartition(".")[0] in modules) else rename(key)
        owner, _, leaf = name.rpartition(".")
        if isinstance(modules.get(owner), W8A16Linear) and leaf in ("weight_packed", "weight_shape"):
            packed.setdefault(owner, {})[leaf] = tensor
            continue
        target = params.get(name, buffers.get(name))
        if target is None:
            raise CheckpointError(f"checkpoint tensor {key!r} (as {name!r}) has no place in the model")
        if tuple(target.shape) != tuple(tensor.shape):
            raise CheckpointError(f"{key}: shape {tuple(tensor.shape)} != model {tuple(target.shape)}")
        with torch.no_grad():
            target.copy_(tensor.to(target.dtype) if target.dtype != torch.int8 else tensor)
        loaded.add(name)
    for owner, parts in packed.items():
        if "weight_packed" not in parts:
            raise CheckpointError(f"{owner}: weight_shape without weight_packed")
        mod = modules[owner]
        shape = tuple(int(v) for v in parts.get("weight_shape", torch.tensor(mod.weight.shape)).tolist())
        if shape != tuple(mod.weight.shape):
            raise CheckpointError(f"{owner}: weight_shape {shape} != module {tuple(mod.weight.shape)}")
        mod.weight.copy_(_unpack(parts["weight_packed"], shape))
        loaded.add(f"{owner}.weight")
    persistent = set(model.state_dict().keys())
    missing = sorted(persistent - loaded - _tied_keys(model))
    if missing:
        raise CheckpointError(f"{len(missing)} model tensors missing from the checkpoint, e.g. {missing[:5]}")
    model.w8a16["format"] = q["format"]
    return model.eval()


def _ignored_by_checkpoint_name(model: nn.Module, ignore: list[str]) -> list[str]:
    """Module names whose checkpoint-layout names (e.g. ``visual.blocks.0.attn.qkv`` for the module
    ``model.visual.blocks.0.attn.qkv``) match the ``ignore`` list of a published checkpoint."""
    from roboos.brain.quant.quantize import matches

    names = [n for n, m in model.named_modules() if type(m) is nn.Linear]
    dummies = {f"{n}.weight": torch.empty(0) for n in names}
    by_id = {id(t): k for k, t in dummies.items()}
    reverted = _revert_keys(model, dict(dummies))
    out = []
    for saved_key, tensor in reverted.items():
        module_name = by_id[id(tensor)].rpartition(".")[0]
        if matches(saved_key.rpartition(".")[0], ignore):
            out.append(module_name)
    return out


def _tied_keys(model: nn.Module) -> set[str]:
    """Keys of tensors tied to another (e.g. lm_head to embed_tokens), which checkpoints may omit."""
    if not getattr(getattr(model, "config", None), "tie_word_embeddings", False):
        return set()
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None:
        return set()
    return {f"{n}.weight" for n, m in model.named_modules() if m is head}
