"""Messages exchanged by ``roboos bench channel`` and the baseline codecs (bare msgpack, msgpack-numpy)."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

IMAGE_SHAPE = (224, 224, 3)
STATE_DIM = 14
ACTION_SHAPE = (50, 32)


def control_call() -> dict[str, Any]:
    """A skill call body of a few hundred bytes (the ≤ 1 KB control message)."""
    return {"skill": "pick", "args": {"object": "red_cup", "place": "kitchen_table", "grasp": "top",
                                      "speed": 0.5},
            "timeout_s": 30.0, "task_id": "task-0123456789abcdef", "step_id": "step-3"}


def control_result() -> dict[str, Any]:
    """The result answering :func:`control_call`."""
    return {"ok": True, "value": {"effects": [{"kind": "holding", "robot": "arm1", "object": "red_cup"}]},
            "error": None, "duration_s": 0.0012}


def observation(seed: int = 0) -> dict[str, Any]:
    """One camera image plus proprioceptive state."""
    rng = np.random.default_rng(seed)
    return {"image": rng.integers(0, 255, IMAGE_SHAPE, dtype=np.uint8),
            "state": rng.standard_normal(STATE_DIM).astype(np.float32), "prompt": "pick up the red cup"}


def action_chunk(seed: int = 1) -> dict[str, Any]:
    """A 50-step, 32-dim float32 action chunk."""
    return {"actions": np.random.default_rng(seed).standard_normal(ACTION_SHAPE).astype(np.float32)}


# ------------------------------------------------------------------ msgpack-numpy (the openpi codec)
def _np_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": True, "data": obj.tobytes(), "dtype": obj.dtype.str, "shape": obj.shape}
    if isinstance(obj, np.generic):
        return {"__npgeneric__": True, "data": obj.item(), "dtype": obj.dtype.str}
    raise TypeError(f"cannot pack {type(obj).__name__}")


def _np_hook(obj: dict[str, Any]) -> Any:
    if "__ndarray__" in obj:
        return np.ndarray(buffer=obj["data"], dtype=np.dtype(obj["dtype"]), shape=obj["shape"])
    if "__npgeneric__" in obj:
        return np.dtype(obj["dtype"]).type(obj["data"])
    return obj


def np_packb(obj: Any) -> bytes:
    """msgpack with numpy arrays as ``{__ndarray__, data, dtype, shape}`` maps (openpi's format)."""
    return msgpack.packb(obj, default=_np_default, use_bin_type=True)


def np_unpackb(data: bytes) -> Any:
    return msgpack.unpackb(data, object_hook=_np_hook, raw=False)


# ------------------------------------------------------- bare ZeroMQ: msgpack header + raw array frames
def frames_pack(obj: dict[str, Any]) -> list[Any]:
    """Bare-zmq floor: a msgpack header describing arrays, then each array as its own raw frame."""
    head: dict[str, Any] = {}
    arrays: list[Any] = []
    for key, value in obj.items():
        if isinstance(value, np.ndarray):
            head[key] = [len(arrays), value.dtype.str, value.shape]
            arrays.append(memoryview(np.ascontiguousarray(value)).cast("B"))
        else:
            head[key] = value
    return [msgpack.packb({"h": head, "a": [k for k, v in obj.items() if isinstance(v, np.ndarray)]}),
            *arrays]


def frames_unpack(frames: list[Any]) -> dict[str, Any]:
    frames = [getattr(f, "buffer", f) for f in frames]  # zmq.Frame (zero-copy) or bytes
    msg = msgpack.unpackb(frames[0], raw=False)
    out = dict(msg["h"])
    for key in msg["a"]:
        index, dtype, shape = out[key]
        out[key] = np.frombuffer(frames[1 + index], dtype=np.dtype(dtype)).reshape(shape)
    return out
