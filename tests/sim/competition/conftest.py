"""Task-suite tests need MuJoCo (the sim extra)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported: headless rendering
pytest.importorskip("mujoco")
