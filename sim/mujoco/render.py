"""Headless rendering on one dedicated thread (an OpenGL context belongs to the thread that made it).

Mesa's software renderer (llvmpipe) links the system LLVM; Triton ships its own LLVM with clashing
symbols, and importing Triton *after* Mesa has initialised crashes the process. Before the first
renderer is made, Triton (when installed) is therefore imported first, which makes both orders safe.
"""

from __future__ import annotations

import importlib
import importlib.util
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np

_PRELOADED = False


def preload_llvm_users() -> None:
    """Import Triton before Mesa loads its LLVM (see the module docstring). Idempotent, cheap after once."""
    global _PRELOADED
    if _PRELOADED:
        return
    _PRELOADED = True
    if importlib.util.find_spec("triton") is not None:
        try:
            importlib.import_module("triton")
        except Exception:  # noqa: BLE001 - a broken triton must not break rendering
            pass


class RenderService:
    """Renders ``MjData`` from named cameras; renderers are cached per image size."""

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self._pool: ThreadPoolExecutor | None = None
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}

    def render(self, data: mujoco.MjData, camera: str, width: int, height: int) -> np.ndarray:
        if self._pool is None:
            preload_llvm_users()
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roboos-render")
        return self._pool.submit(self._render, data, camera, width, height).result()

    def _render(self, data: mujoco.MjData, camera: str, width: int, height: int) -> np.ndarray:
        renderer = self._renderers.get((width, height))
        if renderer is None:
            renderer = self._renderers[(width, height)] = mujoco.Renderer(self.model, height=height, width=width)
        renderer.update_scene(data, camera=camera)
        return renderer.render().copy()

    def close(self) -> None:
        if self._pool is None:
            return
        self._pool.submit(self._close_all).result()
        self._pool.shutdown(wait=True)
        self._pool = None

    def _close_all(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
