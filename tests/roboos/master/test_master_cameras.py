"""OBSERVATION bodies (typed validation, through the wire codec) and the cloud's latest-frame store."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from pydantic import ValidationError

from roboos.master.cameras import CameraFrames
from roboos.protocol import Envelope, MsgType, decode, encode
from roboos.protocol.messages import MAX_CAMERAS, ObservationBody


def rgb(h: int = 4, w: int = 6, value: int = 0) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_body_round_trips_the_wire_as_raw_frames() -> None:
    body = ObservationBody(images={"image": rgb(240, 320, 7), "wrist_image": rgb(2, 3, 9)}, taken_ns=12, seq=3)
    frames = encode(Envelope(MsgType.OBSERVATION, body.model_dump()))
    assert len(frames) == 3 and len(frames[1]) == 240 * 320 * 3  # pixels travel outside the msgpack envelope
    got = ObservationBody.model_validate(decode(frames).body)
    assert got.taken_ns == 12 and got.seq == 3 and got.images["image"].shape == (240, 320, 3)
    assert int(got.images["wrist_image"][1, 2, 0]) == 9 and not got.images["image"].flags.writeable


@pytest.mark.parametrize(
    ("images", "problem"),
    [
        ({"image": rgb().astype(np.float32)}, "must be uint8"),
        ({"image": np.zeros((4, 6), np.uint8)}, "H x W x 3"),
        ({"image": np.zeros((4, 6, 4), np.uint8)}, "H x W x 3"),
        ({"image": np.zeros((0, 6, 3), np.uint8)}, "1..1024 px"),
        ({"image": np.zeros((1025, 2, 3), np.uint8)}, "1..1024 px"),
        ({"image": [[1, 2, 3]]}, "numpy array"),
        ({"../x": rgb()}, "pattern"),
        ({}, "at least 1"),
        ({f"c{i}": rgb() for i in range(MAX_CAMERAS + 1)}, "at most 8"),
    ],
)
def test_bad_bodies_are_refused_with_the_reason(images: dict, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ObservationBody.model_validate({"images": images})
    with pytest.raises(ValidationError):
        ObservationBody.model_validate({"images": {"image": rgb()}, "taken_ns": -1})


def test_store_keeps_only_the_latest_frame_per_camera() -> None:
    store = CameraFrames()
    assert store.accept("arm1", {"images": {"image": rgb(value=1), "wrist_image": rgb(value=2)}, "taken_ns": 5}) == 2
    first = store.latest("arm1", "image")
    assert store.accept("arm1", {"images": {"image": rgb(value=3)}}) == 1
    latest = store.latest("arm1", "image")
    assert int(latest.image[0, 0, 0]) == 3 and latest.seq > first.seq
    assert [(f.robot, f.camera) for f in store.frames()] == [("arm1", "image"), ("arm1", "wrist_image")]
    assert store.latest("arm1", "nope") is None and store.latest("rover1", "image") is None
    info = latest.describe()
    assert info["width"] == 6 and info["height"] == 4 and info["age_s"] >= 0 and "image" not in info  # no pixels
    assert store.received == 3 and store.dropped == 0
    assert store.forget("arm1") == 2 and store.frames() == []


def test_store_is_bounded_and_drops_bad_bodies_with_a_log(caplog: pytest.LogCaptureFixture) -> None:
    store = CameraFrames(max_streams=2)
    store.accept("a", {"images": {"c1": rgb(), "c2": rgb()}})
    with caplog.at_level(logging.WARNING, logger="roboos.master.cameras"):
        assert store.accept("b", {"images": {"c1": rgb()}}) == 0  # a third stream: refused
        assert store.accept("a", {"images": {"c1": rgb(value=4)}}) == 1  # known streams still update
        for _ in range(5):
            assert store.accept("c", {"images": {"image": np.zeros((3, 3), np.uint8)}}) == 0
    assert store.dropped == 6 and len(store.frames()) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("already 2 streams" in m for m in messages)
    assert sum("bad OBSERVATION from c" in m for m in messages) == 1  # rate-limited per robot
    with pytest.raises(ValueError):
        CameraFrames(max_streams=0)
