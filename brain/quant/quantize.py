"""``quantize(model)``: swap a model's ``nn.Linear`` layers for :class:`W8A16Linear` (round-to-nearest,
symmetric int8, per output channel or per group of 128).

Default skip list, as in FlagScale's W8A16 recipe for RoboBrain / Qwen2.5-VL: the vision tower and the
``lm_head`` stay in 16 bits. Skip entries use compressed-tensors ``ignore`` syntax: a module name (or a
suffix after a dot) matches literally, ``re:<pattern>`` matches by regular expression (``re.match``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import torch
from torch import nn

from roboos.brain.quant.module import W8A16Linear
from roboos.brain.quant.reference import QuantizationError

DEFAULT_SKIP: tuple[str, ...] = ("lm_head", "re:.*visual.*", "re:.*vision_tower.*", "re:.*vision_model.*")


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether module ``name`` matches any compressed-tensors style ``ignore`` pattern."""
    for pat in patterns:
        if pat.startswith("re:"):
            if re.match(pat[3:], name):
                return True
        elif name == pat or name.endswith("." + pat):
            return True
    return False


def quantize(model: nn.Module, skip: Iterable[str] = DEFAULT_SKIP, group_size: int | None = None,
             structure_only: bool = False, progress: Callable[[str], None] | None = None) -> nn.Module:
    """Replace every ``nn.Linear`` of ``model`` not matched by ``skip`` with a :class:`W8A16Linear`, in place.

    Args:
        skip: names / ``re:`` patterns kept in 16 bits (default: vision tower and lm_head).
        group_size: 0 for per-channel scales, else the group size along K (e.g. 128); default: per channel, or
            the group size of the model's existing W8A16 layers (a model quantizes with one group size).
        structure_only: build empty W8A16 modules (for loading a checkpoint) instead of quantizing weights.
        progress: called with each quantized module name.

    The model records what was done in ``model.w8a16`` (``{"group_size", "ignore", "modules"}``); Linear
    layers whose in_features the group size does not divide are kept and added to ``ignore``.
    """
    prev = getattr(model, "w8a16", None)
    if group_size is None:
        group_size = int(prev["group_size"]) if prev else 0
    if prev and prev["modules"] and int(prev["group_size"]) != int(group_size):
        raise QuantizationError(f"model already has W8A16 layers with group_size {prev['group_size']}")
    skip = list(skip)
    ignore = list(skip)
    done: list[str] = []
    targets = [(name, mod) for name, mod in model.named_modules() if type(mod) is nn.Linear]
    for name, linear in targets:
        if matches(name, skip):
            continue
        if group_size and linear.in_features % group_size:
            ignore.append(name)
            continue
        if structure_only:
            new = W8A16Linear(linear.in_features, linear.out_features, linear.bias is not None, group_size,
                              linear.weight.dtype, linear.weight.device)
        else:
            with torch.no_grad():
                new = W8A16Linear.from_linear(linear, group_size)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, new)
        for key in [k for k in parent.__dict__ if k.startswith("_roboos_fused")]:
            del parent.__dict__[key]  # the fast engine's fused 16-bit buffers of the swapped layers: now dead
        done.append(name)
        if progress is not None:
            progress(name)
    if prev:  # quantizing again (e.g. a loaded W8A16 checkpoint): keep what was done before
        done = list(prev["modules"]) + done
        ignore = list(dict.fromkeys(list(prev["ignore"]) + ignore))
    model.w8a16 = {"group_size": int(group_size), "ignore": ignore, "modules": done}
    return model


def set_reference_mode(model: nn.Module, mode: str | None) -> int:
    """Switch every W8A16 layer to a reference mode (``"model"``: dequantize to the activation dtype and use
    ``F.linear``; ``"fp32"``: dequantize and multiply in float32) or back to its kernels (``None``)."""
    if mode not in (None, "model", "fp32"):
        raise ValueError(f"reference mode {mode!r} not in (None, 'model', 'fp32')")
    count = 0
    for mod in model.modules():
        if isinstance(mod, W8A16Linear):
            mod.reference = mode
            count += 1
    return count
