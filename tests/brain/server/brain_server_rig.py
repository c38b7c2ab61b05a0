"""Helpers of the brain-server tests: a scene image, a tool, and uvicorn in a thread on a free port."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PIL import Image, ImageDraw
from roboos.brain.robobrain.images import to_data_url
from roboos.brain.server.ports import free_port


def scene_image() -> Image.Image:
    img = Image.new("RGB", (96, 64), (235, 235, 230))
    draw = ImageDraw.Draw(img)
    draw.rectangle([20, 14, 44, 40], fill=(200, 30, 30))
    draw.ellipse([60, 30, 80, 50], fill=(30, 30, 200))
    return img


IMAGE_URL = to_data_url(scene_image())
MOVE_TOOL = {"type": "function", "function": {"name": "move_to", "description": "Drive to a place.",
                                              "parameters": {"type": "object", "properties": {"place": {"type": "string"}},
                                                             "required": ["place"]}}}
MODEL = "RoboBrain2.0-7B-tiny"


class ServerThread:
    """uvicorn serving an app on a free loopback port, in a daemon thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def start_server(model_dir: Path, **overrides) -> tuple[ServerThread, object]:
    from roboos.brain.server.serve import build_app
    from roboos.brain.server.settings import ServerSettings

    settings = ServerSettings(model=str(model_dir), max_seq_len=overrides.pop("max_seq_len", 4096),
                              default_max_tokens=overrides.pop("default_max_tokens", 96), **overrides)
    app = build_app(settings, progress=False)
    return ServerThread(app), app
