"""The openpi wire format: msgpack with numpy arrays as ``{"__ndarray__": True, "data", "dtype", "shape"}``.

Compatible with ``openpi_client.msgpack_numpy`` in both directions, written here so the server does not
depend on the client package. Decoding never executes anything and refuses what could: object, void and
complex dtypes are rejected, sizes and nesting are bounded, and every array's byte count must match its
dtype and shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

_ALLOWED_KINDS = "biuf"  # bool, signed, unsigned, float


class WireError(ValueError):
    """A message is not valid openpi msgpack-numpy."""

    code = "bad_request"


@dataclass(frozen=True)
class WireLimits:
    max_message_bytes: int = 64 << 20
    max_array_bytes: int = 32 << 20
    max_ndim: int = 6
    max_container_len: int = 10_000


def _pack_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"arrays of dtype {obj.dtype} cannot be sent")
        arr = np.ascontiguousarray(obj)
        return {
            b"__ndarray__": True,
            b"data": arr.tobytes(),
            b"dtype": arr.dtype.str,
            b"shape": list(arr.shape),
        }
    if isinstance(obj, np.generic):
        if obj.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"scalars of dtype {obj.dtype} cannot be sent")
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def pack(obj: Any) -> bytes:
    """Encode a message (dicts, lists, scalars, strings, numpy arrays)."""
    return msgpack.packb(obj, default=_pack_default, use_bin_type=True)


def _get(obj: dict, name: str) -> Any:
    if name.encode() in obj:
        return obj[name.encode()]
    return obj.get(name)


def _dtype(spec: Any) -> np.dtype:
    if isinstance(spec, bytes):
        spec = spec.decode("ascii", errors="replace")
    if not isinstance(spec, str) or len(spec) > 16:
        raise WireError(f"array dtype {spec!r} is invalid")
    try:
        dt = np.dtype(spec)
    except TypeError:
        raise WireError(f"array dtype {spec!r} is invalid") from None
    if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise WireError(f"array dtype {spec!r} is not allowed (use bool, integer or float)")
    return dt


def _make_hook(limits: WireLimits):
    def hook(obj: dict) -> Any:
        if _get(obj, "__ndarray__") is True:
            dt = _dtype(_get(obj, "dtype"))
            shape = _get(obj, "shape")
            data = _get(obj, "data")
            if (
                not isinstance(shape, (list, tuple))
                or len(shape) > limits.max_ndim
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
            ):
                raise WireError(f"array shape {shape!r} is invalid")
            if not isinstance(data, (bytes, bytearray)):
                raise WireError("array data must be binary")
            if len(data) > limits.max_array_bytes:
                raise WireError(f"array of {len(data)} bytes exceeds the limit of {limits.max_array_bytes}")
            need = dt.itemsize * int(np.prod(shape, dtype=np.int64))
            if need != len(data):
                raise WireError(
                    f"array data holds {len(data)} bytes; dtype {dt} shape {tuple(shape)} needs {need}"
                )
            return np.frombuffer(data, dtype=dt).reshape(shape)
        if _get(obj, "__npgeneric__") is True:
            dt = _dtype(_get(obj, "dtype"))
            value = _get(obj, "data")
            if not isinstance(value, (int, float, bool)):
                raise WireError("numpy scalar data must be a number")
            return dt.type(value)
        return obj

    return hook


def _str_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            (k.decode("utf-8", errors="replace") if isinstance(k, bytes) else k): _str_keys(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_str_keys(v) for v in obj]
    return obj


def unpack(data: bytes, limits: WireLimits = WireLimits()) -> Any:
    """Decode a message; raise :class:`WireError` for anything malformed or over the limits."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WireError("expected a binary frame")
    if len(data) > limits.max_message_bytes:
        raise WireError(f"message of {len(data)} bytes exceeds the limit of {limits.max_message_bytes}")
    n = limits.max_container_len
    try:
        obj = msgpack.unpackb(
            bytes(data),
            raw=False,
            object_hook=_make_hook(limits),
            strict_map_key=False,
            max_array_len=n,
            max_map_len=n,
            max_str_len=limits.max_message_bytes,
            max_bin_len=limits.max_message_bytes,
            max_ext_len=0,
        )
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"not valid msgpack: {type(exc).__name__}: {exc}") from None
    return _str_keys(obj)
