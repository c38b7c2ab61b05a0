"""MuJoCo physics scenes, robots, gymnasium environments and rendering (``roboos.sim.mujoco``).

Needs the ``roboos[sim]`` extra. Rendering is headless: ``MUJOCO_GL`` defaults to ``egl`` (Mesa's
software EGL works on a CPU-only machine); set ``MUJOCO_GL=osmesa`` where only OSMesa is installed.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
