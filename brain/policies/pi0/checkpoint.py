"""Load and save π0 weights: openpi / LeRobot safetensors key names mapped onto :class:`Pi0Model`.

Published PyTorch π0 checkpoints come in three spellings of the same tensors:

* openpi (``convert_jax_model_to_pytorch``): ``paligemma_with_expert.paligemma.model.language_model.…``,
  ``paligemma_with_expert.gemma_expert.model.…``, ``action_in_proj.…``;
* LeRobot ≥ 0.4: the same keys under a leading ``model.``;
* LeRobot < 0.4 (older transformers layout): ``model.paligemma_with_expert.paligemma.language_model.model.…``
  and ``…paligemma.vision_tower.…`` without the inner ``model.``.

Every key is mapped to this package's names (``vision.``, ``projector.``, ``vlm.``, ``expert.``, heads);
tied LM heads and normalisation buffers are set aside. Anything missing or unexpected raises
:class:`CheckpointKeyError`, which lists the keys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from roboos.brain.policies.normalize import NormStats, load_norm_stats
from roboos.brain.policies.pi0.config import Pi0Config
from torch import nn

_PREFIX_RULES: list[tuple[str, str]] = [
    ("paligemma_with_expert.paligemma.model.vision_tower.", "vision."),
    ("paligemma_with_expert.paligemma.vision_tower.", "vision."),
    ("paligemma_with_expert.paligemma.model.multi_modal_projector.linear.", "projector."),
    ("paligemma_with_expert.paligemma.multi_modal_projector.linear.", "projector."),
    ("paligemma_with_expert.paligemma.model.language_model.", "vlm."),
    ("paligemma_with_expert.paligemma.language_model.model.", "vlm."),
    ("paligemma_with_expert.gemma_expert.model.", "expert."),
]
_IGNORED = [
    re.compile(r"^paligemma_with_expert\.paligemma\.(language_model\.)?lm_head\.weight$"),
    re.compile(r"^paligemma_with_expert\.gemma_expert\.lm_head\.weight$"),
    re.compile(r"^expert\.embed_tokens\.weight$"),
    re.compile(r"^(normalize_inputs|normalize_targets|unnormalize_outputs)\."),
]
_NATIVE_ROOTS = (
    "vision.",
    "projector.",
    "vlm.",
    "expert.",
    "state_proj.",
    "action_in_proj.",
    "action_out_proj.",
    "action_time_mlp_in.",
    "action_time_mlp_out.",
)


class CheckpointKeyError(ValueError):
    """The checkpoint's tensors do not match the model: lists missing, unexpected and mis-shaped keys."""

    def __init__(self, source: str, missing: list[str], unexpected: list[str], mismatched: list[str]):
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched

        def show(title: str, keys: list[str]) -> str:
            if not keys:
                return ""
            more = f"\n    … and {len(keys) - 20} more" if len(keys) > 20 else ""
            return f"\n  {title} ({len(keys)}):\n    " + "\n    ".join(keys[:20]) + more

        super().__init__(
            f"{source}: checkpoint does not fit the π0 model"
            + show("missing keys", missing)
            + show("unexpected keys", unexpected)
            + show("shape mismatches", mismatched)
        )


def map_key(key: str) -> str | None:
    """This package's name for a checkpoint key, or ``None`` for keys that are deliberately ignored."""
    key = key.removeprefix("model.")  # LeRobot wraps the openpi module as `model`
    for pattern in _IGNORED:
        if pattern.search(key):
            return None
    for old, new in _PREFIX_RULES:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def remap_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename every key with :func:`map_key`, dropping ignored ones."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = map_key(key)
        if new is not None:
            out[new] = value
    return out


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy a (remapped) state dict into ``model``, raising :class:`CheckpointKeyError` on any mismatch."""
    mapped = remap_state_dict(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(mapped))
    unexpected = sorted(set(mapped) - set(own))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(mapped[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(mapped)
        if tuple(own[k].shape) != tuple(mapped[k].shape)
    )
    if missing or unexpected or mismatched:
        raise CheckpointKeyError(source, missing, unexpected, mismatched)
    with torch.no_grad():
        for key, tensor in own.items():
            tensor.copy_(mapped[key].to(tensor.dtype))


def _weight_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.glob("*.safetensors")
        if not p.name.startswith(("policy_preprocessor", "policy_postprocessor"))
    )
    if not files:
        raise FileNotFoundError(f"{path}: no *.safetensors weights found")
    return files


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file or of every weight shard in a directory."""
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for file in _weight_files(Path(path)):
        state.update(load_file(str(file)))
    return state


def load_config(path: str | Path) -> Pi0Config:
    """The π0 config next to the weights (``config.json``: this package's or LeRobot's format)."""
    root = Path(path)
    cfg_file = (root if root.is_dir() else root.parent) / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"{cfg_file}: π0 config not found (pass --preset to use a built-in one)")
    return Pi0Config.from_file(cfg_file)


def load_checkpoint(model: nn.Module, path: str | Path) -> NormStats | None:
    """Load weights from ``path`` into ``model``; return the normalisation stats found with them."""
    state = read_safetensors(path)
    load_state_into(model, state, source=str(path))
    root = Path(path)
    return load_norm_stats(root if root.is_dir() else root.parent, state)


def save_checkpoint(
    model: nn.Module, config: Pi0Config, directory: str | Path, norm_stats: NormStats | None = None
) -> Path:
    """Write ``model.safetensors`` (this package's key names), ``config.json`` and ``norm_stats.json``."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt", "roboos.policy": "pi0"})
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    if norm_stats is not None:
        (out / "norm_stats.json").write_text(json.dumps(norm_stats.to_openpi_json(), indent=2))
    return out
