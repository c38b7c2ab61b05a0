"""Camera routes of the dashboard: the robots' streamed frames (JPEG) and the top-down world picture.

Listing the cameras (``GET /api/cameras``, polled every second by the open Cameras view) asks the online
robots to stream (:meth:`~roboos.master.cameras.CameraFrames.request`): edges stream on demand by default.

Frames come from :class:`roboos.master.cameras.CameraFrames` (the newest OBSERVATION frame per robot
camera). Each frame is encoded to JPEG once, on first request, in a worker thread; the encoded bytes are
cached by frame sequence number, so many open browsers cost one encode per new frame.
"""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from roboos.dashboard import snapshot
from roboos.dashboard.topdown import render_topdown
from roboos.protocol.messages import CAMERA_NAME_PATTERN

STALE_AFTER_S = 5.0  # a frame older than this is shown as stale
JPEG_QUALITY = 85
_ROBOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_CAMERA_NAME = re.compile(CAMERA_NAME_PATTERN)
NO_STORE = {"Cache-Control": "no-store"}


def encode_jpeg(image: Any, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of a ``uint8`` H x W x 3 image (Pillow, from the dashboard extra)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def cameras_view(master: Any) -> dict[str, Any]:
    """The top-down view, every streamed camera (size, age, image URL) and robots with none streamed yet."""
    robots = {r["name"]: r for r in snapshot.robots_view(master)}
    streams = []
    for frame in master.cameras.frames():
        item = frame.describe()
        robot = robots.get(frame.robot)
        item["online"] = bool(robot and robot["online"])
        item["stale"] = item["age_s"] > STALE_AFTER_S
        item["url"] = f"/api/cameras/{quote(frame.robot, safe='')}/{quote(frame.camera, safe='')}.jpg"
        streams.append(item)
    streaming = {s["robot"] for s in streams}
    waiting = [
        {"robot": name, "cameras": r["cameras"]}
        for name, r in robots.items()
        if r["cameras"] and r["online"] and name not in streaming
    ]
    views = [{"id": "world", "title": "World, top-down (drawn from the robots' reported state)",
              "url": "/api/cameras/world.png"}]
    return {"views": views, "streams": streams, "waiting": waiting, "stale_after_s": STALE_AFTER_S,
            "received": master.cameras.received, "dropped": master.cameras.dropped}


def camera_router(master: Any) -> APIRouter:
    """``GET /api/cameras``, ``/api/cameras/world.png`` and ``/api/cameras/{robot}/{camera}.jpg``."""
    router = APIRouter()
    cache: dict[tuple[str, str], tuple[int, bytes]] = {}

    @router.get("/api/cameras")
    async def cameras() -> dict[str, Any]:
        # someone is looking: on-demand edges stream for the next few seconds (the page polls every second)
        await master.cameras.request(master.channel, [r.name for r in master.list_robots() if r.online])
        return cameras_view(master)

    @router.get("/api/cameras/world.png")
    async def world_png(w: int = 640, h: int = 480) -> Response:
        w, h = max(160, min(w, 1600)), max(120, min(h, 1200))
        world = master.world.snapshot()
        robots_now = snapshot.robots_view(master)
        png = await asyncio.to_thread(render_topdown, world, robots_now, width=w, height=h)
        return Response(png, media_type="image/png", headers=NO_STORE)

    @router.get("/api/cameras/{robot}/{camera}.jpg")
    async def camera_jpeg(robot: str, camera: str) -> Response:
        if not _ROBOT_NAME.match(robot) or not _CAMERA_NAME.match(camera):
            raise HTTPException(400, f"bad robot or camera name: {robot!r} / {camera!r}")
        frame = master.cameras.latest(robot, camera)
        if frame is None:
            raise HTTPException(404, f"no frame from camera '{camera}' of robot '{robot}'")
        key = (robot, camera)
        hit = cache.get(key)
        if hit is None or hit[0] != frame.seq:
            hit = cache[key] = (frame.seq, await asyncio.to_thread(encode_jpeg, frame.image))
            for stale in [k for k in cache if master.cameras.latest(*k) is None]:
                del cache[stale]  # streams the store forgot
        headers = {**NO_STORE, "X-Frame-Seq": str(frame.seq), "X-Frame-Age-S": f"{frame.age_s:.3f}"}
        return Response(hit[1], media_type="image/jpeg", headers=headers)

    return router
