"""Load RoboBrain 2.0 (Qwen2.5-VL architecture; 3B / 7B / 32B) from a local folder or a hub id.

bf16 on GPU, float32 on CPU; progress bars for each stage (the hub download and shard loading show
their own bars too). Optional W8A16 quantisation through ``roboos.brain.quant.quantize`` and the FlagGems
operator switch are applied here so every backend sees the same model object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from roboos.brain.robobrain.processor import BrainProcessor
from roboos.brain.robobrain.thinking import supports_thinking


class ModelLoadError(RuntimeError):
    """The model could not be loaded (missing path, wrong architecture, download refused offline ...)."""

    code = "model_load_error"


@dataclass
class LoadedBrain:
    """A ready model: weights, processor and facts the server reports."""

    name: str
    model: torch.nn.Module
    processor: BrainProcessor
    device: torch.device
    dtype: torch.dtype
    thinking_model: bool
    stop_token_ids: list[int]
    info: dict = field(default_factory=dict)


def resolve_source(source: str) -> str:
    """A local folder for ``source``: an existing path, or a hub snapshot (cache first, download if allowed)."""
    if Path(source).expanduser().is_dir():
        return str(Path(source).expanduser())
    if source.startswith((".", "/", "~")):
        raise ModelLoadError(f"model folder not found: {source}")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(source)
    except Exception as exc:  # offline, unknown repo, auth ...
        raise ModelLoadError(f"cannot fetch {source!r} from the hub: {exc}") from exc


def default_device(device: str | None) -> torch.device:
    if device and device != "auto":
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _stop_ids(processor: BrainProcessor, model) -> list[int]:
    tok = processor.tokenizer
    ids = set()
    for token in ("<|im_end|>", "<|endoftext|>", tok.eos_token):
        if token:
            tid = tok.convert_tokens_to_ids(token)
            if isinstance(tid, int) and tid >= 0 and tid != tok.unk_token_id:
                ids.add(tid)
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for tid in ([eos] if isinstance(eos, int) else eos or []):
        ids.add(int(tid))
    return sorted(ids)


def load_brain(source: str, *, device: str | None = None, dtype: str | None = None, name: str | None = None,
               quant: str = "none", flaggems: bool = False, progress: bool = True) -> LoadedBrain:
    """Load a RoboBrain / Qwen2.5-VL checkpoint with a progress display."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    dev = default_device(device)
    torch_dtype = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16,
                   "fp16": torch.float16, "float32": torch.float32, "fp32": torch.float32}.get(
        dtype or ("bfloat16" if dev.type == "cuda" else "float32"))
    if torch_dtype is None:
        raise ModelLoadError(f"unknown dtype {dtype!r}")
    stages = ["resolve", "processor", "weights", "quantize" if quant != "none" else None,
              "flaggems" if flaggems else None]
    stages = [s for s in stages if s]
    t0 = time.perf_counter()
    info: dict = {"source": source, "device": str(dev), "dtype": str(torch_dtype).replace("torch.", ""),
                  "quant": quant}
    with Progress(SpinnerColumn(), TextColumn("[bold]loading brain[/] {task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), disable=not progress,
                  transient=False) as bar:
        task = bar.add_task(stages[0], total=len(stages))

        def step(label: str) -> None:
            bar.update(task, advance=1, description=label)

        folder = resolve_source(source)
        step("processor")
        try:
            processor = BrainProcessor.from_pretrained(folder)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load the processor from {folder}: {exc}") from exc
        step("weights")
        model = _load_weights(folder, dev, torch_dtype)
        if quant != "none":
            step("quantize")
            info["quant_report"] = _quantize(model, quant)
        if flaggems:
            from roboos.brain.server.flaggems import enable_flaggems

            info["flaggems"] = enable_flaggems(strict=False)
            step("flaggems")
        bar.update(task, completed=len(stages), description="ready")
    config = model.config
    info["load_s"] = round(time.perf_counter() - t0, 2)
    info["params_b"] = round(sum(p.numel() for p in model.parameters()) / 1e9, 3)
    display = name or Path(folder).name if Path(source).exists() else (name or source)
    return LoadedBrain(display, model, processor, dev, torch_dtype,
                       supports_thinking(f"{source} {display}", config), _stop_ids(processor, model), info)


def _load_weights(folder: str, device: torch.device, dtype: torch.dtype):
    from transformers import AutoConfig, AutoModelForImageTextToText, Qwen2_5_VLForConditionalGeneration

    try:
        config = AutoConfig.from_pretrained(folder)
        if _is_w8a16_checkpoint(folder):  # compressed-tensors W8A16 (ours or llm-compressor's): int8 kept
            from roboos.brain.quant.checkpoint import load_quantized

            return load_quantized(folder, device=device, dtype=dtype)
        cls = Qwen2_5_VLForConditionalGeneration if config.model_type == "qwen2_5_vl" else AutoModelForImageTextToText
        model = cls.from_pretrained(folder, dtype=dtype, device_map=str(device) if device.type == "cuda" else None)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load weights from {folder}: {exc}") from exc
    if device.type != "cuda":
        model = model.to(device)
    return model.eval()


def _is_w8a16_checkpoint(folder: str) -> bool:
    """Whether ``folder/config.json`` declares a compressed-tensors quantization (loaded by roboos.brain.quant)."""
    import json

    try:
        qcfg = json.loads((Path(folder) / "config.json").read_text()).get("quantization_config") or {}
    except (OSError, ValueError):
        return False
    return isinstance(qcfg, dict) and qcfg.get("quant_method") == "compressed-tensors"


def _quantize(model, quant: str) -> dict:
    """Swap Linear layers for W8A16 modules (``roboos.brain.quant``); the fast engine calls them as modules."""
    if quant != "w8a16":
        raise ModelLoadError(f"unknown quantisation {quant!r} (expected none or w8a16)")
    try:
        from roboos.brain.quant import quantize
    except ImportError as exc:
        raise ModelLoadError(f"W8A16 quantisation is not available: {exc}") from exc
    if getattr(model, "w8a16", None) is None:  # a pre-quantized checkpoint already carries its modules
        quantize(model)
    record = getattr(model, "w8a16", None) or {}
    modules = record.get("modules", [])
    return {"group_size": record.get("group_size"), "modules": len(modules) if hasattr(modules, "__len__") else modules}
