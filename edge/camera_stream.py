"""Camera streaming from the edge: a robot's camera images go to the cloud at a low rate.

:class:`CameraStream` polls :meth:`Robot.get_observation` every ``1 / rate_hz`` seconds in its own worker
thread at a lower CPU priority (a MuJoCo render takes tens of milliseconds; the event loop, and so
heartbeats, skill calls and watchdog pings, never wait for it), keeps the camera images — keys ``image``,
``*_image`` and ``observation/images/<name>`` — converts them to ``uint8`` H x W x 3, shrinks them by area
averaging so neither side exceeds ``max_side`` pixels, and sends one fire-and-forget
:class:`~roboos.protocol.messages.ObservationBody` as ``MsgType.OBSERVATION``. A tick is skipped, never
queued, while the link is down or the previous poll is still running. With ``on_demand`` (the default) it
renders and sends only while the cloud asks for frames (a ``camera_demand`` EVENT, renewed while a
dashboard shows the Cameras view), so nobody pays for frames nobody watches. Robots whose class does not
override ``get_observation`` or whose profile lists no ``cameras`` send nothing and cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from pydantic import ValidationError

from roboos.protocol.messages import (
    CAMERA_DEMAND,
    MAX_CAMERAS,
    MAX_IMAGE_SIDE,
    CameraDemandBody,
    EventBody,
    ObservationBody,
)
from roboos.robot import Robot

log = logging.getLogger("roboos.edge.cameras")

IMAGES_PREFIX = "observation/images/"
NICE = 10  # the capture thread's priority drop: frames are best effort, control traffic comes first
SendFn = Callable[[ObservationBody], Awaitable[None]]


def camera_name(key: str) -> str | None:
    """The camera name of an observation key, or ``None`` if the key is not a camera image."""
    if key.startswith(IMAGES_PREFIX):
        return key[len(IMAGES_PREFIX):] or None
    if key == "image" or key.endswith("_image"):
        return key
    return None


def to_rgb8(image: Any) -> np.ndarray | None:
    """``uint8`` H x W x 3 from a grey, RGB or RGBA image (uint8, uint16, or floats in 0..1); else ``None``."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        return None
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        return None
    if image.dtype == np.uint8:
        out = image
    elif image.dtype.kind == "f":
        out = (np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif image.dtype == np.uint16:  # 16-bit cameras (depth-style or HDR sensors): keep the top byte
        out = (image >> 8).astype(np.uint8)
    else:
        return None
    if out.ndim == 2:
        out = out[:, :, None]
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    elif out.shape[2] == 4:
        out = out[:, :, :3]
    return np.ascontiguousarray(out)


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """Area-average ``image`` (H x W x C) by the smallest integer factor that fits ``max_side``."""
    height, width = image.shape[:2]
    factor = math.ceil(max(height, width) / max_side)
    if factor <= 1:
        return image
    h, w = height // factor, width // factor
    if h == 0 or w == 0:  # a very thin image: sample it instead
        rows = np.linspace(0, height - 1, max(1, min(height, max_side))).astype(int)
        cols = np.linspace(0, width - 1, max(1, min(width, max_side))).astype(int)
        return np.ascontiguousarray(image[rows][:, cols])
    crop = image[: h * factor, : w * factor]
    total = np.zeros((h, w, image.shape[2]), np.uint16 if factor <= 16 else np.uint32)  # no overflow
    for dy in range(factor):  # factor**2 strided adds: far cheaper than a float mean over a 5-d view
        for dx in range(factor):
            total += crop[dy::factor, dx::factor]
    count = factor * factor
    return ((total + count // 2) // count).astype(np.uint8)


def camera_frames(observation: Mapping[str, Any], max_side: int) -> dict[str, np.ndarray]:
    """The camera images of an observation, keyed by camera name, ready for the wire."""
    frames: dict[str, np.ndarray] = {}
    for key, value in observation.items():
        name = camera_name(key) if isinstance(key, str) else None
        if name is None or len(frames) >= MAX_CAMERAS:
            continue
        image = to_rgb8(value)
        if image is not None:
            frames[name] = shrink(image, max_side)
    return frames


def has_cameras(robot: Robot) -> bool:
    """Whether ``robot`` can have camera images: it overrides ``get_observation`` and its profile does
    not declare an empty ``cameras`` list."""
    if type(robot).get_observation is Robot.get_observation:
        return False
    try:
        declared = robot.profile().get("cameras", None)
    except Exception:  # noqa: BLE001 - a broken profile is the registration's problem, not ours
        declared = None
    return declared is None or bool(declared)


def lower_thread_priority(step: int = NICE) -> None:
    """Lower the calling thread's CPU priority (Linux: nice is per thread, and threads it starts inherit it,
    such as a renderer's worker threads); a no-op where that is not possible."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + step))
    except (AttributeError, OSError):
        pass


class CameraStream:
    """Streams one robot's camera images to the cloud at ``rate_hz`` (0: off)."""

    def __init__(self, robot: Robot, *, rate_hz: float = 0.0, max_side: int = 320, on_demand: bool = True) -> None:
        if rate_hz < 0:
            raise ValueError(f"camera rate_hz must be >= 0, got {rate_hz}")
        if not 16 <= max_side <= MAX_IMAGE_SIDE:
            raise ValueError(f"camera max_side must be 16..{MAX_IMAGE_SIDE}, got {max_side}")
        self.robot = robot
        self.rate_hz = rate_hz
        self.max_side = max_side
        self.on_demand = on_demand  # stream only while the cloud asks (a dashboard is watching)
        self.demanded_until = 0.0  # time.monotonic() until which the cloud asked for frames
        self.sent = 0  # OBSERVATION messages sent
        self.skipped = 0  # ticks skipped: link down, or the previous poll ran past its tick
        self.failed = 0  # polls that raised
        self._warned = False
        self._inflight: Future[ObservationBody | None] | None = None

    @property
    def enabled(self) -> bool:
        return self.rate_hz > 0 and has_cameras(self.robot)

    @property
    def wanted(self) -> bool:
        """Whether frames are wanted now: always, or (``on_demand``) while a cloud request lasts."""
        return not self.on_demand or time.monotonic() < self.demanded_until

    def demand(self, for_s: float) -> None:
        """The cloud asks for frames for the next ``for_s`` seconds (extends, never shortens, a request)."""
        self.demanded_until = max(self.demanded_until, time.monotonic() + for_s)

    def on_event(self, body: Mapping[str, Any]) -> bool:
        """Handle an EVENT body from the cloud; ``True`` if it was a camera demand (valid or not)."""
        if body.get("kind") != CAMERA_DEMAND:
            return False
        try:
            self.demand(CameraDemandBody.model_validate(EventBody.model_validate(body).data).for_s)
        except ValidationError as exc:
            log.warning("%s: invalid camera demand ignored: %s", self.robot.name, exc.errors(include_url=False)[:1])
        return True

    def capture(self) -> ObservationBody | None:
        """Poll the robot once (blocking: call it in a thread); ``None`` when it has no camera image now."""
        taken_ns = time.time_ns()
        frames = camera_frames(self.robot.get_observation(), self.max_side)
        if not frames:
            return None
        return ObservationBody(images=frames, taken_ns=taken_ns, seq=self.sent + 1)

    async def run(self, send: SendFn, connected: Callable[[], bool], stopping: asyncio.Event) -> None:
        """Poll and send until ``stopping`` is set (returns at once when the stream is off)."""
        if not self.enabled:
            return
        period = 1.0 / self.rate_hz
        loop = asyncio.get_running_loop()
        log.info("%s: streaming cameras at %.3g Hz (<= %d px)", self.robot.name, self.rate_hz, self.max_side)
        pool = ThreadPoolExecutor(1, thread_name_prefix=f"roboos-camera-{self.robot.name}",
                                  initializer=lower_thread_priority)
        next_tick = loop.time()
        try:
            while not stopping.is_set():
                if not connected():
                    self.skipped += 1
                elif self.wanted:
                    await self._tick(send, pool)
                next_tick += period
                now = loop.time()
                if next_tick < now:  # the poll overran: skip the missed ticks instead of catching up
                    self.skipped += int((now - next_tick) / period) + 1
                    next_tick = now + period
                try:
                    await asyncio.wait_for(stopping.wait(), next_tick - now)
                except asyncio.TimeoutError:
                    pass
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            if self._inflight is not None and not self._inflight.done():  # never poll a robot after run()
                with contextlib.suppress(BaseException):
                    await asyncio.shield(asyncio.wrap_future(self._inflight))

    async def _tick(self, send: SendFn, pool: ThreadPoolExecutor) -> None:
        try:
            self._inflight = pool.submit(self.capture)
            body = await asyncio.wrap_future(self._inflight)
            if body is not None:
                await send(body)
                self.sent += 1
        except Exception as exc:  # noqa: BLE001 - a render glitch must not stop the stream or the agent
            self.failed += 1
            if not self._warned:
                self._warned = True
                log.warning("%s: camera frames failed (%s: %s); retrying every tick, logged once",
                            self.robot.name, type(exc).__name__, exc)
