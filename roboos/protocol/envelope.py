"""The wire envelope of the cloud <-> edge data plane and its frame codec.

A message is one msgpack *envelope* frame optionally followed by raw binary frames, one per numpy array
found in the body. Arrays are replaced in the body by a msgpack extension (code :data:`ARRAY_EXT`)
holding ``[frame_index, dtype, shape]``, so images and action chunks travel without copying and without
pickling. Nothing received is ever executed: decoding only builds dicts, lists, scalars and read-only
numpy views, and every size is bounded by :class:`Limits`.
"""

from __future__ import annotations

import enum
import itertools
import math
import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 1
ARRAY_EXT = 42
ALLOWED_DTYPES = frozenset(
    ["bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
     "float16", "float32", "float64"]
)
# dtype -> wire name for little-endian / native arrays (``dtype.name`` is slow on the hot path)
_WIRE_NAMES = {np.dtype(n).newbyteorder("<"): n for n in ALLOWED_DTYPES}
_WIRE_DTYPES = {n: np.dtype(n).newbyteorder("<") for n in ALLOWED_DTYPES}


class MsgType(str, enum.Enum):
    """Message types of the data plane."""

    HELLO = "hello"  # edge -> cloud: registration (robot profile + skill cards)
    WELCOME = "welcome"  # cloud -> edge: registration accepted
    HEARTBEAT = "heartbeat"  # both ways
    CALL = "call"  # cloud -> edge: run a skill
    RESULT = "result"  # edge -> cloud: outcome of a call
    CANCEL = "cancel"  # cloud -> edge: cancel a running call
    STATE = "state"  # edge -> cloud: robot state
    OBSERVATION = "observation"  # either way: camera frames / proprioception
    ACTION = "action"  # either way: action chunk
    EVENT = "event"  # edge -> cloud: something happened (watchdog stop, reconnect, ...)
    ERROR = "error"  # either way: a message was refused
    BYE = "bye"  # either way: orderly disconnect


_MSG_TYPES = {m.value: m for m in MsgType}


class ProtocolError(ValueError):
    """A message could not be decoded or violates the protocol; ``code`` is sent back in error replies."""

    code = "malformed"


class VersionMismatch(ProtocolError):
    code = "version_mismatch"


class MessageTooLarge(ProtocolError):
    code = "too_large"


@dataclass(frozen=True)
class Limits:
    """Upper bounds enforced while decoding, so a hostile peer cannot exhaust memory."""

    max_envelope_bytes: int = 1 << 20  # 1 MiB of msgpack
    max_frames: int = 32  # envelope + array frames
    max_frame_bytes: int = 64 << 20  # one array frame
    max_total_bytes: int = 256 << 20  # all frames of one message
    max_ndim: int = 8
    max_container_len: int = 100_000  # per msgpack array / map


DEFAULT_LIMITS = Limits()


class _IdSource:
    """Message ids: a random 64-bit prefix per process (renewed after fork) plus a counter, 32 hex digits.

    Unique across processes and restarts like a UUID4, but ~10x cheaper (it is on every message's path).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_ids = _IdSource()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.reset)


def new_id() -> str:
    """A fresh, unique message id (32 hex digits)."""
    return _ids()


@dataclass
class Envelope:
    """One data-plane message. ``body`` may contain numpy arrays anywhere (dicts and lists)."""

    type: MsgType
    body: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    reply_to: str | None = None
    src: str = ""
    dst: str = ""
    ts_ns: int = field(default_factory=time.time_ns)
    version: int = PROTOCOL_VERSION

    def reply(self, type: MsgType, body: dict[str, Any] | None = None, src: str = "") -> Envelope:
        """A message answering this one (``reply_to`` set, source and destination swapped)."""
        return Envelope(type=type, body=body or {}, reply_to=self.id, src=src or self.dst, dst=self.src)


class _Encoder:
    """A reusable msgpack Packer whose hook moves numpy arrays out into frames (one per thread)."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.packer = msgpack.Packer(default=self.default, use_bin_type=True)

    def default(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            name = _WIRE_NAMES.get(obj.dtype)
            if name is None:
                if obj.dtype.name not in ALLOWED_DTYPES:
                    raise TypeError(f"array dtype {obj.dtype} cannot travel on the wire")
                name = obj.dtype.name
                obj = obj.astype(obj.dtype.newbyteorder("<"))  # big-endian -> little-endian
            arr = obj if obj.flags.c_contiguous else np.ascontiguousarray(obj)
            self.arrays.append(arr)
            meta = msgpack.packb([len(self.arrays), name, list(arr.shape)])
            return msgpack.ExtType(ARRAY_EXT, meta)
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, (set, frozenset, tuple)):
            return list(obj)
        raise TypeError(f"cannot encode {type(obj).__name__} on the wire")


_encoders = threading.local()


def encode(env: Envelope) -> list[bytes | memoryview]:
    """Encode an envelope into frames: ``[msgpack envelope, array0, array1, ...]`` (arrays not copied)."""
    enc: _Encoder | None = getattr(_encoders, "encoder", None)
    if enc is None:
        enc = _encoders.encoder = _Encoder()
    # ``env.type`` packs as its value (a str enum), without the Python-level ``.value`` descriptor
    head = [env.version, env.type, env.id, env.reply_to, env.ts_ns, env.src, env.dst, env.body]
    enc.arrays = []
    try:
        packed = enc.packer.pack(head)  # the Packer resets its buffer when this raises
    finally:
        arrays, enc.arrays = enc.arrays, []
    if not arrays:
        return [packed]
    frames: list[bytes | memoryview] = [packed]
    frames += [memoryview(a).cast("B") if a.size else b"" for a in arrays]
    return frames


def decode(frames: Sequence[bytes | memoryview | Any], limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """Decode frames into an :class:`Envelope`, validating sizes, types, dtypes and shapes.

    Raises :class:`ProtocolError` (or a subclass) for anything malformed; never executes data.
    """
    if not frames:
        raise ProtocolError("empty message")
    if len(frames) > limits.max_frames:
        raise MessageTooLarge(f"{len(frames)} frames, limit {limits.max_frames}")
    used: set[int] = set()
    if len(frames) == 1:  # no array frames (most control traffic): no views, no per-message hook
        head_buf = frames[0] if type(frames[0]) is bytes else _buffer(frames[0])
        buffers = [head_buf]
        ext_hook = _no_array_frames
    else:
        buffers = [_buffer(f) for f in frames]
        head_buf = buffers[0]

        def ext_hook(code: int, data: bytes) -> Any:
            _check_ext(code)
            return _decode_array(data, buffers, used, limits)

    head_len = len(head_buf)
    if head_len > limits.max_envelope_bytes:
        raise MessageTooLarge(f"envelope of {head_len} bytes, limit {limits.max_envelope_bytes}")
    total = head_len if len(buffers) == 1 else sum(len(b) for b in buffers)
    if total > limits.max_total_bytes:
        raise MessageTooLarge(f"message of {total} bytes, limit {limits.max_total_bytes}")
    n = limits.max_container_len
    try:
        head = msgpack.unpackb(
            head_buf, raw=False, ext_hook=ext_hook, strict_map_key=True, use_list=True,
            max_str_len=limits.max_envelope_bytes, max_bin_len=limits.max_envelope_bytes,
            max_array_len=n, max_map_len=n, max_ext_len=1024,
        )
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises several types (ValueError, ExtraData, FormatError, ...)
        raise ProtocolError(f"envelope is not valid msgpack: {type(exc).__name__}: {exc}") from None
    if type(head) is not list or len(head) != 8:
        raise ProtocolError("envelope must be a list of 8 fields")
    version, mtype, mid, reply_to, ts_ns, src, dst, body = head
    if version != PROTOCOL_VERSION:
        raise VersionMismatch(f"protocol version {version!r}, this side speaks {PROTOCOL_VERSION}")
    msg_type = _MSG_TYPES.get(mtype) if type(mtype) is str else None
    if msg_type is None:
        raise ProtocolError(f"unknown message type {mtype!r}")
    # unpackb(raw=False) yields exact str / int / dict / list types, so ``type() is`` checks suffice
    if type(mid) is not str or type(src) is not str or type(dst) is not str \
            or len(mid) > 256 or len(src) > 256 or len(dst) > 256:
        for name, value in (("id", mid), ("src", src), ("dst", dst)):
            if not isinstance(value, str) or len(value) > 256:
                raise ProtocolError(f"field '{name}' must be a string of at most 256 characters")
    if reply_to is not None and (type(reply_to) is not str or len(reply_to) > 256):
        raise ProtocolError("field 'reply_to' must be a string or null")
    if type(ts_ns) is not int:
        raise ProtocolError("field 'ts_ns' must be an integer")
    if type(body) is not dict:
        raise ProtocolError("body must be a map")
    if len(used) != len(buffers) - 1:
        raise ProtocolError(f"{len(buffers) - 1} array frames sent, {len(used)} referenced")
    return Envelope(msg_type, body, mid, reply_to, src, dst, ts_ns, version)


def _check_ext(code: int) -> None:
    if code != ARRAY_EXT:
        raise ProtocolError(f"unknown msgpack extension {code}")


def _no_array_frames(code: int, data: bytes) -> Any:
    """The extension hook of a message without array frames: any reference is invalid."""
    _check_ext(code)
    raise ProtocolError("array reference to a frame the message does not have")


def _buffer(frame: Any) -> memoryview:
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return memoryview(frame).cast("B") if isinstance(frame, memoryview) else memoryview(frame)
    buf = getattr(frame, "buffer", None)  # zmq.Frame
    if buf is not None:
        return memoryview(buf)
    raise ProtocolError(f"frame of type {type(frame).__name__} is not bytes")


def _decode_array(data: bytes, buffers: list[memoryview], used: set[int], limits: Limits) -> np.ndarray:
    try:
        index, dtype, shape = msgpack.unpackb(data, raw=False, max_array_len=limits.max_ndim + 3)
    except Exception:
        raise ProtocolError("array reference is malformed") from None
    if type(index) is not int or not 1 <= index < len(buffers) or index in used:
        raise ProtocolError(f"array reference to frame {index!r} is invalid or repeated")
    if type(dtype) is not str or dtype not in ALLOWED_DTYPES:
        raise ProtocolError(f"array dtype {dtype!r} is not allowed")
    if type(shape) is not list or len(shape) > limits.max_ndim:
        raise ProtocolError(f"array shape {shape!r} is invalid")
    for d in shape:  # exact ints (msgpack yields exact types; bool is not a dimension)
        if type(d) is not int or d < 0:
            raise ProtocolError(f"array shape {shape!r} is invalid")
    buf = buffers[index]
    if len(buf) > limits.max_frame_bytes:
        raise MessageTooLarge(f"array frame of {len(buf)} bytes, limit {limits.max_frame_bytes}")
    dt = _WIRE_DTYPES[dtype]
    expected = dt.itemsize * math.prod(shape)
    if expected != len(buf):
        raise ProtocolError(f"array frame holds {len(buf)} bytes, dtype {dtype} shape {shape} needs {expected}")
    used.add(index)
    arr = np.frombuffer(buf, dtype=dt).reshape(shape)
    arr.flags.writeable = False  # a view of the received frame (or of the sender's array, in-process)
    return arr
