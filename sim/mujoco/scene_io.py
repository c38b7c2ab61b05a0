"""Bridge between the symbolic scene format (:class:`SceneConfig`) and MuJoCo worlds.

A MuJoCo scene file is an ordinary scene YAML whose ``name`` is ``mujoco_<layout>`` (``mujoco_tabletop``,
``mujoco_household``): the cloud's planner reads it like any scene, and :func:`world_from_scene` builds the
physics from it (layout by name, objects by kind/colour, each scattered on its place with a seed).
:func:`scene_of` goes the other way: the current physical state as a scene, for the planner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from roboos.config import builtin_config
from roboos.sim.kinematic.scene import ObjectConfig, PlaceConfig, PlaceKind, SceneConfig, StationConfig, load_scene
from roboos.sim.mujoco import mjcf
from roboos.sim.mujoco.scenes import LAYOUTS, ObjectSpec
from roboos.sim.mujoco.world import MujocoWorld

PREFIX = "mujoco_"


def layout_name(scene: SceneConfig) -> str:
    if not scene.name.startswith(PREFIX) or scene.name[len(PREFIX):] not in LAYOUTS:
        raise ValueError(f"scene '{scene.name}' is not a MuJoCo scene; MuJoCo scenes are named "
                         + ", ".join(PREFIX + n for n in LAYOUTS))
    return scene.name[len(PREFIX):]


def world_from_scene(scene: SceneConfig, *, seed: int = 0, realtime: bool = False) -> MujocoWorld:
    """Build and scatter a MuJoCo world matching a scene file (unknown kinds/colours are refused)."""
    layout = layout_name(scene)
    objects = []
    for obj in scene.objects:
        if obj.kind not in mjcf.SHAPES:
            raise ValueError(f"object '{obj.name}': kind '{obj.kind}' has no MuJoCo shape ({', '.join(mjcf.SHAPES)})")
        if obj.color not in mjcf.COLORS:
            raise ValueError(f"object '{obj.name}': colour '{obj.color}' is unknown ({', '.join(mjcf.COLORS)})")
        objects.append(ObjectSpec(obj.name, obj.kind, obj.color))
    world = MujocoWorld(layout, objects, realtime=realtime)
    drawers = {p.name: (0.0 if not p.open else 1.0) for p in scene.places if p.openable}
    world.scatter({o.name: o.location for o in scene.objects}, np.random.default_rng(seed), drawers=drawers)
    return world


def load_world(path: str | Path | None, time_scale: float | None = None, *, seed: int = 0) -> MujocoWorld:
    """The edge's world factory for MuJoCo robot kinds (``time_scale`` > 0 runs in real time)."""
    scene = load_scene(path if path is not None else builtin_config("scenes/mujoco_household.yaml"))
    return world_from_scene(scene, seed=seed, realtime=bool(time_scale))


def scene_of(world: MujocoWorld, robots: dict[str, StationConfig] | None = None) -> SceneConfig:
    """The world's current symbolic state as a scene (places, objects where they are now, stations)."""
    places = []
    for spec in world.layout.places:
        if spec.name == "floor":
            continue
        openable = spec.joint is not None
        places.append(PlaceConfig(
            name=spec.name, kind=PlaceKind(spec.kind), position=(round(spec.center[0], 3), round(spec.center[1], 3)),
            openable=openable, open=world.is_open(spec.name) if openable else True, description=spec.description))
    if any(world.location_of(o) == "floor" for o in world.objects):
        places.append(PlaceConfig(name="floor", kind=PlaceKind.surface, position=(0.0, 0.0), capacity=64))
    objects = []
    for name, spec in world.objects.items():
        where = world.location_of(name)
        objects.append(ObjectConfig(name=name, kind=spec.kind, color=spec.color,
                                    location=where if not where.startswith("robot:") else "floor"))
    return SceneConfig(name=f"{PREFIX}{world.layout.name}", description=world.layout.description, time_scale=0.0,
                       places=places, objects=objects, robots=robots or {})
