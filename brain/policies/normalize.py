"""Normalisation statistics of policy states and actions, read from checkpoint metadata.

Sources, first found wins:

1. openpi's ``norm_stats.json`` (in the checkpoint folder or under ``assets/*/``):
   ``{"norm_stats": {"state": {"mean", "std", "q01", "q99"}, "actions": {...}}}``;
2. LeRobot ≥ 0.4 processor files ``policy_preprocessor*.safetensors`` / ``policy_postprocessor*.safetensors``
   with tensors ``observation.state.mean`` … ``action.std``;
3. LeRobot < 0.4 buffers inside the weights: ``normalize_inputs.buffer_observation_state.mean`` and
   ``unnormalize_outputs.buffer_action.mean`` (…``.std``).

Numpy only, so it is usable on the edge without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

EPS = 1e-6


@dataclass
class Stats:
    """Per-dimension statistics of one quantity."""

    mean: np.ndarray
    std: np.ndarray
    q01: np.ndarray | None = None
    q99: np.ndarray | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str) -> Stats:
        def arr(name: str, required: bool) -> np.ndarray | None:
            if name not in data or data[name] is None:
                if required:
                    raise ValueError(f"{where}: normalisation stats lack '{name}'")
                return None
            value = np.asarray(data[name], dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{where}: normalisation stat '{name}' holds non-finite values")
            return value

        return cls(arr("mean", True), arr("std", True), arr("q01", False), arr("q99", False))

    def to_json(self) -> dict[str, list[float]]:
        out = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.q01 is not None and self.q99 is not None:
            out.update(q01=self.q01.tolist(), q99=self.q99.tolist())
        return out


def _fit(stat: np.ndarray, width: int, fill: float) -> np.ndarray:
    if stat.shape[0] >= width:
        return stat[:width]
    return np.concatenate([stat, np.full(width - stat.shape[0], fill)])


@dataclass
class NormStats:
    """State and action statistics plus the normalisation mode (openpi π0 uses z-scores)."""

    state: Stats | None = None
    actions: Stats | None = None
    mode: Literal["mean_std", "quantile"] = "mean_std"

    def normalize_state(self, x: np.ndarray) -> np.ndarray:
        return self._forward(self.state, x)

    def unnormalize_actions(self, y: np.ndarray) -> np.ndarray:
        s = self.actions
        if s is None:
            return y
        w = y.shape[-1]
        if self.mode == "quantile" and s.q01 is not None and s.q99 is not None:
            lo, hi = _fit(s.q01, w, -1.0), _fit(s.q99, w, 1.0)
            return (y + 1.0) / 2.0 * (hi - lo + EPS) + lo
        return y * (_fit(s.std, w, 1.0) + EPS) + _fit(s.mean, w, 0.0)

    def _forward(self, s: Stats | None, x: np.ndarray) -> np.ndarray:
        if s is None:
            return x
        w = x.shape[-1]
        if self.mode == "quantile" and s.q01 is not None and s.q99 is not None:
            lo, hi = _fit(s.q01, w, -1.0), _fit(s.q99, w, 1.0)
            return (x - lo) / (hi - lo + EPS) * 2.0 - 1.0
        return (x - _fit(s.mean, w, 0.0)) / (_fit(s.std, w, 1.0) + EPS)

    @property
    def action_dim(self) -> int | None:
        return None if self.actions is None else int(self.actions.mean.shape[0])

    def to_openpi_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.state is not None:
            body["state"] = self.state.to_json()
        if self.actions is not None:
            body["actions"] = self.actions.to_json()
        return {"norm_stats": body}

    @classmethod
    def from_openpi_json(cls, data: Any, where: str = "norm_stats.json") -> NormStats:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object")
        body = data.get("norm_stats", data)
        if not isinstance(body, dict):
            raise ValueError(f"{where}: 'norm_stats' must be an object")
        state = body.get("state")
        actions = body.get("actions")
        return cls(
            state=Stats.from_mapping(state, f"{where}:state") if isinstance(state, dict) else None,
            actions=Stats.from_mapping(actions, f"{where}:actions") if isinstance(actions, dict) else None,
        )


def _from_tensors(
    tensors: dict[str, Any], state_prefixes: list[str], action_prefixes: list[str], where: str
) -> NormStats | None:
    def find(prefixes: list[str]) -> Stats | None:
        for p in prefixes:
            if f"{p}.mean" in tensors and f"{p}.std" in tensors:
                data = {
                    k: np.asarray(
                        tensors[f"{p}.{k}"].float().cpu()
                        if hasattr(tensors[f"{p}.{k}"], "float")
                        else tensors[f"{p}.{k}"]
                    )
                    for k in ("mean", "std", "q01", "q99")
                    if f"{p}.{k}" in tensors
                }
                return Stats.from_mapping(data, where)
        return None

    state, actions = find(state_prefixes), find(action_prefixes)
    if state is None and actions is None:
        return None
    return NormStats(state=state, actions=actions)


def load_norm_stats(directory: str | Path, weights: dict[str, Any] | None = None) -> NormStats | None:
    """The normalisation stats stored with a checkpoint, or ``None`` if it carries none."""
    root = Path(directory)
    candidates = [root / "norm_stats.json", *sorted(root.glob("assets/*/norm_stats.json"))]
    for path in candidates:
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: invalid JSON: {exc}") from None
            return NormStats.from_openpi_json(data, str(path))
    processor_files = sorted(root.glob("policy_preprocessor*.safetensors")) + sorted(
        root.glob("policy_postprocessor*.safetensors")
    )
    if processor_files:
        from safetensors.numpy import load_file

        tensors: dict[str, Any] = {}
        for f in processor_files:
            tensors.update(load_file(str(f)))
        found = _from_tensors(tensors, ["observation.state"], ["action"], str(root))
        if found is not None:
            return found
    if weights:
        return _from_tensors(
            weights,
            ["normalize_inputs.buffer_observation_state"],
            ["unnormalize_outputs.buffer_action", "normalize_targets.buffer_action"],
            str(root),
        )
    return None
