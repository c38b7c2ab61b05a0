"""A top-down picture of the world as the cloud knows it: places, objects, robots and their poses.

The kinematic sim robots have no cameras, so the Cameras view shows this instead: drawn server-side
with Pillow from the master's world model (seeded from the scene, changed only by skill effects and
robot STATE messages) — it shows what the robots reported, nothing invented.
"""

from __future__ import annotations

import functools
import io
import math
from typing import Any

from PIL import Image, ImageDraw, ImageFont

PLACE_FILL = {"surface": "#d9e4f5", "container": "#f5e6c8", "station": "#dff2df"}
ROBOT_FILL = {"online": "#1f6feb", "offline": "#8b949e"}
STATUS_RING = {"busy": "#d29922", "error": "#cf222e", "stopped": "#cf222e"}
COLOR_NAMES = {
    "red": "#d1242f",
    "blue": "#0969da",
    "yellow": "#d4a72c",
    "white": "#f6f8fa",
    "green": "#1a7f37",
    "silver": "#afb8c1",
    "orange": "#e16f24",
    "grey": "#6e7781",
    "gray": "#6e7781",
    "black": "#24292f",
    "purple": "#8250df",
    "brown": "#8a5a2b",
    "pink": "#e85aad",
}


def render_topdown(
    world: dict[str, Any], robots: list[dict[str, Any]], *, width: int = 640, height: int = 480
) -> bytes:
    """PNG bytes of the world snapshot (``WorldModel.snapshot()``) and the robots' reported states."""
    places: dict[str, dict[str, Any]] = world.get("places", {})
    objects: dict[str, dict[str, Any]] = world.get("objects", {})
    img = Image.new("RGB", (width, height), "#ffffff")
    draw = ImageDraw.Draw(img)
    font = _font(13)
    small = _font(11)
    if not places:
        draw.text((20, height // 2), "no places in the world model", fill="#57606a", font=font)
        return _png(img)
    to_px, scale = _projection(places, robots, width, height)
    box = int(max(12, min(26, scale * 0.22)))  # places 0.5 m apart must not overlap
    for name, place in sorted(places.items()):
        x, y = to_px(*_position(place))
        fill = PLACE_FILL.get(str(place.get("kind")), "#eeeeee")
        closed = place.get("openable") and not place.get("open")
        draw.rounded_rectangle(
            (x - box, y - box, x + box, y + box),
            radius=6,
            fill=fill,
            outline="#57606a" if not closed else "#cf222e",
            width=2 if closed else 1,
        )
        label = name + (" (closed)" if closed else "")
        draw.text((x, y + box + 2), label, fill="#24292f", font=small, anchor="ma")
        inside = [o for o, v in sorted(objects.items()) if v.get("location") == name]
        for i, obj in enumerate(inside[:9]):
            step = (2 * box - 6) / 3
            ox = x - box + 3 + step / 2 + (i % 3) * step
            oy = y - box + 3 + step / 2 + (i // 3) * step
            _object_dot(draw, ox, oy, objects[obj])
    for robot in robots:
        pos = _robot_position(robot, places)
        if pos is None:
            continue
        x, y = to_px(*pos)
        state = robot.get("state") or {}
        fill = ROBOT_FILL["online" if robot.get("online") else "offline"]
        ring = STATUS_RING.get(str(state.get("status")), "#ffffff")
        draw.ellipse((x - 13, y - 13, x + 13, y + 13), fill=fill, outline=ring, width=3)
        pose = state.get("pose") or None
        if isinstance(pose, dict) and "theta" in pose:
            th = float(pose.get("theta") or 0.0)
            draw.line((x, y, x + 18 * math.cos(th), y - 18 * math.sin(th)), fill="#24292f", width=3)
        held = state.get("holding")
        if held and held in objects:
            _object_dot(draw, x + 10, y - 10, objects[held])
        left, top, right, bottom = draw.textbbox(
            (x + 16, y - 8), str(robot.get("name")), font=font, anchor="lm"
        )
        draw.rounded_rectangle(
            (left - 3, top - 2, right + 3, bottom + 2), radius=3, fill="#ddf4ff", outline="#54aeff"
        )
        draw.text((x + 16, y - 8), str(robot.get("name")), fill="#0a3069", font=font, anchor="lm")
    draw.text(
        (8, 6),
        f"world: {world.get('scene') or '?'} (version {world.get('version', 0)})",
        fill="#57606a",
        font=small,
    )
    legend = "blue disc: robot (amber ring: busy) · dots: objects by colour · red frame: closed container"
    draw.text((8, height - 16), legend, fill="#57606a", font=small)
    return _png(img)


def _object_dot(draw: ImageDraw.ImageDraw, x: float, y: float, obj: dict[str, Any]) -> None:
    color = COLOR_NAMES.get(str(obj.get("color", "")).lower(), "#6e7781")
    draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=color, outline="#24292f")


def _position(place: dict[str, Any]) -> tuple[float, float]:
    pos = place.get("position") or (0.0, 0.0)
    try:
        return float(pos[0]), float(pos[1])
    except (TypeError, ValueError, IndexError):
        return 0.0, 0.0


def _robot_position(robot: dict[str, Any], places: dict[str, dict[str, Any]]) -> tuple[float, float] | None:
    state = robot.get("state") or {}
    pose = state.get("pose")
    if isinstance(pose, dict) and "x" in pose and "y" in pose:
        return float(pose["x"]), float(pose["y"])
    location = state.get("location") or robot.get("location")
    if location in places:
        px, py = _position(places[location])
        return px - 0.3, py - 0.3  # beside the place it stands at, not on top of it
    return None


def _projection(places: dict[str, dict[str, Any]], robots: list[dict[str, Any]], width: int, height: int):
    points = [_position(p) for p in places.values()]
    points += [p for r in robots if (p := _robot_position(r, places)) is not None]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    margin = 60
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = min(
        (width - 2 * margin) / max(max(xs) - min(xs), 1e-6),
        (height - 2 * margin) / max(max(ys) - min(ys), 1e-6),
        (min(width, height) - 2 * margin) / span * 2,
    )
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def to_px(x: float, y: float) -> tuple[float, float]:
        return width / 2 + (x - cx) * scale, height / 2 - (y - cy) * scale  # y up, as on a map

    return to_px, scale


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
