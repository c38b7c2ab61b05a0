"""Decode and validate request images (base64 data URLs or local file paths) into RGB PIL images."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError


class BadImageError(ValueError):
    """An image in a request could not be accepted (format, size, source)."""

    code = "bad_image"


@dataclass(frozen=True)
class ImageLimits:
    """What the server accepts: encoded size, pixel count, and which local folders files may come from."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 8
    allow_files: bool = True
    roots: tuple[str, ...] = field(default_factory=tuple)  # empty: any readable path


def _decode_bytes(data: bytes, limits: ImageLimits) -> Image.Image:
    if len(data) > limits.max_bytes:
        raise BadImageError(f"image is {len(data)} bytes; the limit is {limits.max_bytes}")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > limits.max_pixels:
                raise BadImageError(f"image is {width}x{height}; the limit is {limits.max_pixels} pixels")
            if min(width, height) < limits.min_side:
                raise BadImageError(f"image is {width}x{height}; each side must be at least {limits.min_side}")
            probe.load()
            return probe.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise BadImageError(f"not a decodable image ({type(exc).__name__}); send PNG, JPEG or WebP") from exc


def _from_data_url(url: str, limits: ImageLimits) -> Image.Image:
    header, _, payload = url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        raise BadImageError("data URL must be data:image/<type>;base64,<data>")
    if len(payload) > limits.max_bytes * 4 // 3 + 8:
        raise BadImageError(f"image larger than {limits.max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImageError(f"invalid base64 image data: {exc}") from exc
    return _decode_bytes(data, limits)


def _from_path(spec: str, limits: ImageLimits) -> Image.Image:
    if not limits.allow_files:
        raise BadImageError("this server does not accept local file paths for images")
    path = Path(spec.removeprefix("file://")).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise BadImageError(f"image file not found: {path}") from exc
    if limits.roots and not any(resolved.is_relative_to(Path(r).resolve()) for r in limits.roots):
        raise BadImageError(f"image path {resolved} is outside the allowed image folders")
    if not resolved.is_file():
        raise BadImageError(f"image path is not a file: {resolved}")
    if resolved.stat().st_size > limits.max_bytes:
        raise BadImageError(f"image file larger than {limits.max_bytes} bytes")
    return _decode_bytes(resolved.read_bytes(), limits)


def load_image(spec: str, limits: ImageLimits | None = None) -> Image.Image:
    """An RGB image from a ``data:image/...;base64,`` URL, a ``file://`` URL or a local path."""
    limits = limits or ImageLimits()
    if not isinstance(spec, str) or not spec:
        raise BadImageError("image reference must be a non-empty string")
    if spec.startswith("data:"):
        return _from_data_url(spec, limits)
    if spec.startswith(("http://", "https://")):
        raise BadImageError("remote image URLs are not fetched by this server; send a base64 data URL")
    return _from_path(spec, limits)


def to_data_url(image: Image.Image, fmt: str = "PNG") -> str:
    """Encode a PIL image as a base64 data URL (for clients and tests)."""
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode()}"
