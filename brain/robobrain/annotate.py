"""Draw task results (points, boxes, trajectories) on the request image, for people to look at."""

from __future__ import annotations

from PIL import Image, ImageDraw


def annotate(image: Image.Image, result: dict) -> Image.Image:
    """A copy of ``image`` with ``result``'s points (red dots), boxes (green) and trajectory (blue path)."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    radius = max(3, min(out.size) // 80)
    width = max(2, min(out.size) // 200)
    for x, y, *_ in result.get("points", []):
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(230, 30, 30), outline=(255, 255, 255))
    for x1, y1, x2, y2 in result.get("boxes", []):
        draw.rectangle([x1, y1, x2, y2], outline=(20, 200, 60), width=width)
    path = [(p[0], p[1]) for p in result.get("trajectory", [])]
    if len(path) >= 2:
        draw.line(path, fill=(40, 90, 230), width=width, joint="curve")
    for i, (x, y) in enumerate(path):
        r = radius + (2 if i == len(path) - 1 else 0)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(40, 90, 230) if i else (20, 200, 60))
    return out
