"""Validation of incoming observations (openpi-style dicts of numpy arrays) for image-based policies.

Accepted spellings, so openpi clients and LeRobot-style harnesses work unchanged:

* images: ``obs["images"][cam]`` (or ``obs["image"][cam]``), ``"observation/images/<cam>"``,
  ``"observation.images.<cam>"``, and openpi's LIBERO keys ``"observation/image"`` (first camera) and
  ``"observation/wrist_image"`` (second camera);
* state: ``"state"``, ``"observation/state"`` or ``"observation.state"``;
* prompt: ``"prompt"`` (or ``"task"``), a string.

Images are ``uint8`` (H, W, 3) or (3, H, W), or float in [0, 1]. Errors name the key and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from roboos.brain.policies.base import ObservationError

MAX_IMAGE_SIDE = 4096
MAX_PROMPT_CHARS = 2000
_IMAGE_ALIASES = {"observation/image": 0, "observation/wrist_image": 1}


@dataclass
class ParsedObservation:
    images: dict[str, np.ndarray]  # camera -> (H, W, 3) uint8
    state: np.ndarray  # (S,) float32
    prompt: str


def _image(name: str, value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ObservationError(f"image '{name}' must be a numpy array, got {type(value).__name__}")
    if value.ndim != 3:
        raise ObservationError(f"image '{name}' must have 3 dimensions (H, W, 3), got shape {value.shape}")
    if value.shape[-1] != 3 and value.shape[0] == 3:
        value = np.moveaxis(value, 0, -1)
    if value.shape[-1] != 3:
        raise ObservationError(f"image '{name}' must have 3 colour channels, got shape {value.shape}")
    h, w = value.shape[:2]
    if not (1 <= h <= MAX_IMAGE_SIDE and 1 <= w <= MAX_IMAGE_SIDE):
        raise ObservationError(f"image '{name}' has size {h}x{w}; sides must be 1..{MAX_IMAGE_SIDE}")
    if value.dtype == np.uint8:
        return value
    if value.dtype in (np.float32, np.float64, np.float16):
        if not np.all(np.isfinite(value)) or value.min() < 0.0 or value.max() > 1.0:
            raise ObservationError(f"float image '{name}' must hold finite values in [0, 1]")
        return (value * 255.0 + 0.5).astype(np.uint8)
    raise ObservationError(f"image '{name}' has dtype {value.dtype}; use uint8 (or float in [0, 1])")


def _collect_images(obs: dict[str, Any], cameras: tuple[str, ...]) -> dict[str, np.ndarray]:
    raw: dict[str, Any] = {}
    for key in ("images", "image"):
        group = obs.get(key)
        if group is None:
            continue
        if not isinstance(group, dict):
            raise ObservationError(f"'{key}' must map camera names to arrays")
        raw.update({str(k): v for k, v in group.items()})
    for key, value in obs.items():
        if not isinstance(key, str):
            continue
        for prefix in ("observation/images/", "observation.images."):
            if key.startswith(prefix):
                raw[key[len(prefix) :]] = value
        if key in _IMAGE_ALIASES and _IMAGE_ALIASES[key] < len(cameras):
            raw[cameras[_IMAGE_ALIASES[key]]] = value
    unknown = sorted(set(raw) - set(cameras))
    if unknown:
        raise ObservationError(f"unknown camera(s) {unknown}; this policy takes {list(cameras)}")
    return {name: _image(name, raw[name]) for name in cameras if name in raw}


def _state(obs: dict[str, Any], state_dim: int) -> np.ndarray:
    for key in ("state", "observation/state", "observation.state"):
        if key in obs:
            value = obs[key]
            break
    else:
        raise ObservationError("missing 'state' (proprioceptive state vector)")
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError, OverflowError) as exc:  # ragged or mixed lists
            raise ObservationError(f"'state' is not a numeric vector: {exc}") from None
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise ObservationError(
            f"'state' must be a numeric numpy array, got {type(value).__name__}"
            + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else "")
        )
    value = value.reshape(-1) if value.ndim == 2 and value.shape[0] == 1 else value
    if value.ndim != 1:
        raise ObservationError(f"'state' must be a 1-D vector, got shape {value.shape}")
    if value.shape[0] > state_dim:
        raise ObservationError(f"'state' has {value.shape[0]} values; this policy takes at most {state_dim}")
    value = value.astype(np.float32)
    if not np.all(np.isfinite(value)):
        raise ObservationError("'state' holds NaN or infinite values")
    return value


def _prompt(obs: dict[str, Any]) -> str:
    value = obs.get("prompt", obs.get("task", ""))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "US":
        value = str(value.reshape(-1)[0]) if value.size else ""
    if not isinstance(value, str):
        raise ObservationError(f"'prompt' must be a string, got {type(value).__name__}")
    if len(value) > MAX_PROMPT_CHARS:
        raise ObservationError(f"'prompt' is {len(value)} characters; the limit is {MAX_PROMPT_CHARS}")
    return value


def parse_observation(
    obs: Any, cameras: tuple[str, ...], required: tuple[str, ...], state_dim: int
) -> ParsedObservation:
    """Validate ``obs`` for a policy with these cameras; raise :class:`ObservationError` if malformed."""
    if not isinstance(obs, dict):
        raise ObservationError(f"an observation must be a map, got {type(obs).__name__}")
    images = _collect_images(obs, cameras)
    missing = [c for c in required if c not in images]
    if missing:
        raise ObservationError(
            f"missing camera image(s) {missing}; required: {list(required)}, "
            f"optional: {[c for c in cameras if c not in required]}"
        )
    return ParsedObservation(images=images, state=_state(obs, state_dim), prompt=_prompt(obs))
