"""The latest camera frame of every robot camera, as streamed by the edges (OBSERVATION messages), and
the requests that make on-demand edges stream (``camera_demand`` EVENTs, sent while someone watches).

Only the newest frame per (robot, camera) is kept, and at most ``max_streams`` streams: memory stays
bounded by ``max_streams`` x 1024 x 1024 x 3 bytes whatever the edges send (320 px frames, the edge
default, take 300 kB each). A body that does not validate as
:class:`~roboos.protocol.messages.ObservationBody` is dropped, counted and logged (once per robot and
minute), never raised into the channel.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from roboos.channel.errors import ChannelError
from roboos.protocol import Envelope, MsgType
from roboos.protocol.messages import CAMERA_DEMAND, CameraDemandBody, EventBody, ObservationBody

log = logging.getLogger("roboos.master.cameras")

WARN_EVERY_S = 60.0
DEMAND_S = 6.0  # a camera request lasts this long; a robot is asked again after a third of it


@dataclass(frozen=True)
class CameraFrame:
    """One received camera image (``uint8`` H x W x 3, read-only) and when it was taken and received."""

    robot: str
    camera: str
    image: np.ndarray
    seq: int  # the store's counter: changes with every new frame of this camera
    taken_ns: int  # edge clock; 0 = unknown
    received: float  # time.monotonic() on the cloud
    received_at: float  # time.time() on the cloud

    @property
    def age_s(self) -> float:
        """Seconds since the cloud received the frame."""
        return time.monotonic() - self.received

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts about the frame (no pixels)."""
        height, width = self.image.shape[:2]
        return {"robot": self.robot, "camera": self.camera, "width": width, "height": height,
                "seq": self.seq, "age_s": round(self.age_s, 3), "taken_ns": self.taken_ns,
                "received_at": self.received_at}


class CameraFrames:
    """Latest frame per robot camera, fed by :meth:`accept` from the master's channel hook."""

    def __init__(self, max_streams: int = 64) -> None:
        if max_streams < 1:
            raise ValueError(f"max_streams must be >= 1, got {max_streams}")
        self.max_streams = max_streams
        self.received = 0  # frames accepted
        self.dropped = 0  # observations refused (invalid body, or a new stream with the store full)
        self._frames: dict[tuple[str, str], CameraFrame] = {}
        self._seq = 0
        self._warned: dict[str, float] = {}
        self._asked: dict[str, float] = {}  # robot -> time.monotonic() of the last camera request

    def accept(self, robot: str, body: Mapping[str, Any]) -> int:
        """Validate an OBSERVATION body from ``robot`` and keep its images; returns how many were kept."""
        try:
            obs = ObservationBody.model_validate(body)
        except ValidationError as exc:
            self.dropped += 1
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            self._warn(robot, f"dropping a bad OBSERVATION from {robot}: {where}: {err['msg']}")
            return 0
        now, wall = time.monotonic(), time.time()
        kept = 0
        for camera, image in obs.images.items():
            key = (robot, camera)
            if key not in self._frames and len(self._frames) >= self.max_streams:
                self.dropped += 1
                self._warn(robot, f"dropping camera '{camera}' of {robot}: already {self.max_streams} streams kept")
                continue
            self._seq += 1
            self._frames[key] = CameraFrame(robot, camera, image, self._seq, obs.taken_ns, now, wall)
            kept += 1
        self.received += kept
        return kept

    async def request(self, channel: Any, robots: Iterable[str], for_s: float = DEMAND_S) -> list[str]:
        """Ask ``robots`` to stream their cameras for ``for_s`` seconds (a ``camera_demand`` EVENT through the
        :class:`~roboos.channel.CloudChannel`); a robot asked less than ``for_s / 3`` ago is not asked again,
        an unreachable one is skipped. Returns the robots asked now."""
        body = EventBody(kind=CAMERA_DEMAND, data=CameraDemandBody(for_s=for_s).model_dump()).model_dump()
        now = time.monotonic()
        asked = []
        for robot in robots:
            if now - self._asked.get(robot, -math.inf) < for_s / 3:
                continue
            try:
                await channel.send(robot, Envelope(MsgType.EVENT, dict(body)))
            except ChannelError:
                continue
            self._asked[robot] = now
            asked.append(robot)
        return asked

    def latest(self, robot: str, camera: str) -> CameraFrame | None:
        """The newest frame of that camera, or ``None``."""
        return self._frames.get((robot, camera))

    def frames(self) -> list[CameraFrame]:
        """The newest frame of every camera, sorted by robot then camera."""
        return [self._frames[k] for k in sorted(self._frames)]

    def forget(self, robot: str) -> int:
        """Drop every frame of ``robot``; returns how many streams were dropped."""
        keys = [k for k in self._frames if k[0] == robot]
        for key in keys:
            del self._frames[key]
        return len(keys)

    def _warn(self, robot: str, message: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(robot, -WARN_EVERY_S) >= WARN_EVERY_S:
            self._warned[robot] = now
            log.warning("%s (more are counted, logged at most once a minute)", message)
