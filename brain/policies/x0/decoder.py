"""RoboBrain-X0 output parsing: generated ids → subtask text + FAST action ids → end-effector poses.

X0 (a Qwen2.5-VL model) writes an optional subtask in words, then ``<boa>``, FAST action tokens mapped
into a contiguous block of its vocabulary, and ``<eoa>``. Decoding subtracts the block's offset to get
FAST ids, decodes them to a normalised delta chunk (horizon × 7·arms), de-normalises with the
checkpoint's min-max stats (``x = (x_norm - offset) / scale``) and integrates the deltas from the
current end-effector pose (:mod:`.poses`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from roboos.brain.policies.fast import FastTokenizer
from roboos.brain.policies.x0.poses import EMBODIMENT_DIMS, integrate_ee_deltas

DEFAULT_PROMPT = (
    "You control a {arms} robot by adjusting its end-effector poses at {rate} Hz. First state the "
    "immediate sub-task, then give control tokens that decode into {horizon} consecutive {dim}-D actions "
    "(per arm: 3 delta position, 3 delta orientation as axis-angle, 1 gripper opening).\n"
    "Camera views: {cameras}.\nOverall task: {task}."
)


@dataclass
class X0Config:
    """Token layout and action geometry of an X0 checkpoint (``x0_config.json`` overrides these)."""

    embodiment: str = "dual_arm"
    horizon: int = 30
    control_rate_hz: float = 30.0
    boa_id: int = 151665
    eoa_id: int = 151667
    action_token_offset: int = 149595  # FAST id 0 in the model's vocabulary
    action_token_count: int = 2048  # FAST vocabulary mapped at [offset, offset + count)
    cameras: tuple[str, ...] = ("cam_high", "cam_right_wrist", "cam_left_wrist")
    max_subtask_tokens: int = 64
    max_action_tokens: int = 512
    prompt_template: str = DEFAULT_PROMPT
    stats_key: str = "action.eepose"
    fast_dir: str = "fast"

    def __post_init__(self) -> None:
        if self.embodiment not in EMBODIMENT_DIMS:
            raise ValueError(f"unknown embodiment {self.embodiment!r}; choose {sorted(EMBODIMENT_DIMS)}")
        if self.horizon < 1 or self.action_token_count < 1:
            raise ValueError("horizon and action_token_count must be positive")
        self.cameras = tuple(self.cameras)

    @property
    def action_dim(self) -> int:
        return EMBODIMENT_DIMS[self.embodiment]

    @classmethod
    def from_file(cls, path: str | Path) -> X0Config:
        data = json.loads(Path(path).read_text())
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown X0 config keys {unknown}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class MinMaxStats:
    """De-normalisation of actions: ``x = (x_norm - offset) / scale`` per dimension."""

    scale: np.ndarray
    offset: np.ndarray

    @classmethod
    def from_file(cls, path: str | Path, key: str) -> MinMaxStats:
        data = json.loads(Path(path).read_text())
        entry = data.get(key) if isinstance(data, dict) else None
        if not isinstance(entry, dict) or "scale_" not in entry or "offset_" not in entry:
            raise ValueError(f"{path}: expected '{key}' with 'scale_' and 'offset_'")
        scale = np.asarray(entry["scale_"], dtype=np.float64)
        if np.any(scale == 0) or not np.all(np.isfinite(scale)):
            raise ValueError(f"{path}: '{key}.scale_' must be finite and non-zero")
        return cls(scale, np.asarray(entry["offset_"], dtype=np.float64))

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        return (x - self.offset[: x.shape[-1]]) / self.scale[: x.shape[-1]]


@dataclass
class X0Output:
    subtask: str
    action_ids: list[int]  # FAST ids
    deltas: np.ndarray  # (horizon, dim) de-normalised
    poses: np.ndarray  # (horizon, dim) absolute
    notes: list[str] = field(default_factory=list)


class X0Decoder:
    """Everything after generation; pure numpy (plus ``tokenizers`` for the FAST vocabulary)."""

    def __init__(self, config: X0Config, fast: FastTokenizer, stats: MinMaxStats | None):
        self.config, self.fast, self.stats = config, fast, stats

    def split(self, generated: list[int]) -> tuple[list[int], list[int], list[str]]:
        """Generated ids → (subtask ids, FAST ids, notes about anything unusual)."""
        c = self.config
        notes: list[str] = []
        if c.boa_id in generated:
            i = generated.index(c.boa_id)
            subtask, rest = generated[:i], generated[i + 1 :]
        else:
            subtask, rest = [], generated
            notes.append("no <boa> token: the whole output was read as actions")
        if c.eoa_id in rest:
            rest = rest[: rest.index(c.eoa_id)]
        else:
            notes.append("no <eoa> token: the action tokens run to the end of the output")
        lo, hi = c.action_token_offset, c.action_token_offset + c.action_token_count
        fast_ids = [t - lo for t in rest if lo <= t < hi]
        if len(fast_ids) != len(rest):
            notes.append(f"{len(rest) - len(fast_ids)} non-action token(s) between <boa> and <eoa> ignored")
        return subtask, fast_ids, notes

    def decode(self, generated: list[int], current_pose: np.ndarray, subtask_text: str = "") -> X0Output:
        _subtask_ids, fast_ids, notes = self.split(generated)
        c = self.config
        norm = self.fast.decode(fast_ids, c.horizon, c.action_dim)
        deltas = self.stats.denormalize(norm) if self.stats is not None else norm
        poses = integrate_ee_deltas(current_pose, deltas)
        return X0Output(subtask_text, fast_ids, deltas, poses, notes)
