"""Envelope codec: round trips, every rejection path, and fuzzing of malformed frames."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roboos.protocol import (
    PROTOCOL_VERSION,
    Envelope,
    Limits,
    MessageTooLarge,
    MsgType,
    ProtocolError,
    VersionMismatch,
    decode,
    encode,
    new_id,
)
from roboos.protocol.envelope import ARRAY_EXT, ALLOWED_DTYPES


def _head(**over: object) -> list[object]:
    fields = {"version": PROTOCOL_VERSION, "type": "state", "id": "x", "reply_to": None, "ts": 1,
              "src": "a", "dst": "b", "body": {}}
    fields.update(over)
    return list(fields.values())


def _frames(**over: object) -> list[bytes]:
    return [msgpack.packb(_head(**over), use_bin_type=True)]


def _array_ref(index: int, dtype: str, shape: list[object]) -> msgpack.ExtType:
    return msgpack.ExtType(ARRAY_EXT, msgpack.packb([index, dtype, shape]))


# ------------------------------------------------------------------------------------ round trips
def test_round_trip_plain_body() -> None:
    env = Envelope(MsgType.CALL, {"skill": "pick", "args": {"object": "cup", "n": 3, "f": 0.5, "b": b"\x00"},
                                  "none": None, "list": [1, "two", [3.0]]}, src="cloud", dst="arm1")
    out = decode(encode(env))
    assert out == env


@pytest.mark.parametrize("dtype", sorted(ALLOWED_DTYPES))
def test_round_trip_every_allowed_dtype(dtype: str) -> None:
    arr = (np.arange(24) % 2).astype(dtype).reshape(2, 3, 4)
    out = decode(encode(Envelope(MsgType.OBSERVATION, {"a": arr})))
    assert out.body["a"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out.body["a"], arr)


def test_arrays_nested_empty_scalar_strided_and_big_endian() -> None:
    body = {
        "image": np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8),
        "nested": {"list": [np.zeros((0, 4), np.float32), np.array(3.5)]},
        "strided": np.arange(20, dtype=np.int64)[::3],
        "big_endian": np.arange(6, dtype=">f4").reshape(2, 3),
        "np_scalar": np.float32(1.5),
        "tuple": (1, 2),
        "set": {7},
    }
    frames = encode(Envelope(MsgType.OBSERVATION, body))
    assert len(frames) == 1 + 5  # envelope + one frame per array
    out = decode(frames).body
    np.testing.assert_array_equal(out["image"], body["image"])
    assert out["nested"]["list"][0].shape == (0, 4)
    assert out["nested"]["list"][1].shape == () and float(out["nested"]["list"][1]) == 3.5
    np.testing.assert_array_equal(out["strided"], body["strided"])
    np.testing.assert_array_equal(out["big_endian"], body["big_endian"])
    assert out["big_endian"].dtype == np.dtype("<f4")
    assert out["np_scalar"] == 1.5 and out["tuple"] == [1, 2] and out["set"] == [7]


def test_decoded_arrays_are_read_only_views() -> None:
    out = decode(encode(Envelope(MsgType.ACTION, {"a": np.ones(4, np.float32)})))
    with pytest.raises(ValueError):
        out.body["a"][0] = 2.0


def test_reply_swaps_endpoints_and_links_ids() -> None:
    call = Envelope(MsgType.CALL, {"skill": "x"}, src="cloud", dst="arm1")
    res = call.reply(MsgType.RESULT, {"ok": True})
    assert res.reply_to == call.id and res.src == "arm1" and res.dst == "cloud" and res.id != call.id


def test_ids_are_unique_and_short() -> None:
    ids = {new_id() for _ in range(10_000)}
    assert len(ids) == 10_000 and all(len(i) == 32 for i in ids)


def test_unencodable_values_raise_type_error() -> None:
    with pytest.raises(TypeError):
        encode(Envelope(MsgType.STATE, {"f": object()}))
    with pytest.raises(TypeError):
        encode(Envelope(MsgType.STATE, {"a": np.array([object()])}))
    with pytest.raises(TypeError):
        encode(Envelope(MsgType.STATE, {"c": np.zeros(2, np.complex64)}))


# ------------------------------------------------------------------------------------- rejections
@pytest.mark.parametrize(
    "frames, error",
    [
        ([], ProtocolError),
        ([b"\xc1"], ProtocolError),  # never-used msgpack byte
        ([msgpack.packb({"not": "a list"})], ProtocolError),
        ([msgpack.packb([1, 2, 3])], ProtocolError),
        (_frames(version=PROTOCOL_VERSION + 1), VersionMismatch),
        (_frames(version="1"), VersionMismatch),
        (_frames(type="teleport"), ProtocolError),
        (_frames(type=3), ProtocolError),
        (_frames(id=5), ProtocolError),
        (_frames(id="x" * 300), ProtocolError),
        (_frames(reply_to=7), ProtocolError),
        (_frames(ts=True), ProtocolError),
        (_frames(ts="now"), ProtocolError),
        (_frames(body=[1]), ProtocolError),
        (_frames(src=None), ProtocolError),
        ([msgpack.packb(_head(body={1: 2}))], ProtocolError),  # non-string map key
        ([msgpack.packb(_head()), b"orphan"], ProtocolError),  # frame nobody references
        ([msgpack.packb(_head(body={"e": msgpack.ExtType(7, b"x")}))], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "float32", [2])}))], ProtocolError),  # no frame
        ([msgpack.packb(_head(body={"a": _array_ref(0, "uint8", [1])})), b"\x00"], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "object", [1])})), b"\x00"], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "uint8", [-1])})), b"\x00"], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "uint8", [True])})), b"\x00"], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "uint8", [1] * 9)})), b"\x00"], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "uint8", "3")})), b"\x00"], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "float32", [3])})), b"\x00" * 8], ProtocolError),
        ([msgpack.packb(_head(body={"a": msgpack.ExtType(ARRAY_EXT, b"\xc1")})), b"\x00"], ProtocolError),
        ([msgpack.packb(_head(body={"a": _array_ref(1, "uint8", [1]), "b": _array_ref(1, "uint8", [1])})),
          b"\x00"], ProtocolError),  # the same frame referenced twice
        ([b"\x91" * 100_000 + b"\xc0"], ProtocolError),  # nesting bomb
    ],
)
def test_malformed_messages_are_rejected(frames: list[bytes], error: type[Exception]) -> None:
    with pytest.raises(error):
        decode(frames)


def test_limits_are_enforced() -> None:
    big = encode(Envelope(MsgType.STATE, {"s": "x" * 2000}))
    with pytest.raises(MessageTooLarge):
        decode(big, Limits(max_envelope_bytes=1000))
    arrays = encode(Envelope(MsgType.OBSERVATION, {"a": np.zeros(4096, np.uint8), "b": np.zeros(2, np.uint8)}))
    with pytest.raises(MessageTooLarge):
        decode(arrays, Limits(max_frame_bytes=1024))
    with pytest.raises(MessageTooLarge):
        decode(arrays, Limits(max_total_bytes=2048))
    with pytest.raises(MessageTooLarge):
        decode(arrays, Limits(max_frames=2))
    with pytest.raises(ProtocolError):
        decode(encode(Envelope(MsgType.STATE, {"l": list(range(50))})), Limits(max_container_len=10))
    assert MessageTooLarge.code == "too_large" and VersionMismatch.code == "version_mismatch"


def test_zmq_frames_decode_without_copy() -> None:
    zmq = pytest.importorskip("zmq")
    frames = encode(Envelope(MsgType.ACTION, {"a": np.arange(6, dtype=np.float32)}))
    out = decode([frames[0], zmq.Frame(bytes(frames[1]))])
    np.testing.assert_array_equal(out.body["a"], np.arange(6, dtype=np.float32))
    with pytest.raises(ProtocolError):
        decode([frames[0], 12345])


# ---------------------------------------------------------------------------------------- fuzzing
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.floats(allow_nan=False),
                     st.text(max_size=20), st.binary(max_size=20))
_bodies = st.dictionaries(st.text(max_size=10), st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20), max_size=6)
_arrays = st.builds(
    lambda dtype, shape: (np.arange(int(np.prod(shape))) % 7).astype(dtype).reshape(shape),
    st.sampled_from(sorted(ALLOWED_DTYPES)), st.lists(st.integers(0, 4), max_size=3).map(tuple))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies, arrays=st.lists(_arrays, max_size=3), mtype=st.sampled_from(list(MsgType)))
def test_fuzz_round_trip(body: dict, arrays: list[np.ndarray], mtype: MsgType) -> None:
    env = Envelope(mtype, {**body, "arrays": arrays})
    out = decode(encode(env))
    assert out.type is mtype and out.id == env.id
    for a, b in zip(out.body["arrays"], arrays):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and a.shape == b.shape


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_fuzz_random_frames_never_crash(frames: list[bytes]) -> None:
    try:
        decode(frames)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fuzz_mutated_valid_messages_never_crash(data: st.DataObject) -> None:
    frames = [bytes(f) for f in encode(Envelope(MsgType.OBSERVATION, {"img": np.ones((4, 4), np.uint8),
                                                                      "s": "state", "n": [1, 2.5]}))]
    i = data.draw(st.integers(0, len(frames) - 1))
    raw = bytearray(frames[i])
    op = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if op == "flip" and raw:
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] ^= data.draw(st.integers(1, 255))
    elif op == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=8))
    frames[i] = bytes(raw)
    try:
        decode(frames)
    except ProtocolError:
        pass
