"""Success predicates over a MuJoCo world's physical state, read back as symbols.

``on_surface`` / ``inside`` [obj, place]: the object rests on / inside the place and is not held (the
names avoid YAML 1.1 reading ``on`` as a boolean); ``held`` obj: a robot
holds it; ``open``/``closed`` place: a drawer's opening; ``near`` [a, b, d]: centres closer than d metres;
``lifted`` [obj, h]: the object is at least h metres above its start height.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from roboos.sim.mujoco.world import MujocoWorld


def check(pred: Mapping[str, Any], world: MujocoWorld, bindings: Mapping[str, str],
          start_z: Mapping[str, float] | None = None) -> tuple[bool, str]:
    """Evaluate one predicate; returns (holds, a short explanation)."""
    (name, arg), = pred.items()
    args = arg if isinstance(arg, list) else [arg]

    def obj(slot: str) -> str:
        return bindings.get(slot, slot)

    if name in ("on_surface", "inside"):
        o, place = obj(args[0]), args[1]
        where = world.location_of(o)
        return where == place, f"{o} is at {where}, wanted {'on' if name == 'on_surface' else 'in'} {place}"
    if name == "held":
        o = obj(args[0])
        holder = world.holder_of(o)
        return holder is not None, f"{o} is {'held by ' + holder if holder else 'not held'}"
    if name == "open":
        return world.is_open(args[0]), f"{args[0]} is {world.drawer_fraction(args[0]):.0%} open"
    if name == "closed":
        return world.is_closed(args[0]), f"{args[0]} is {world.drawer_fraction(args[0]):.0%} open"
    if name == "near":
        a, b, d = obj(args[0]), obj(args[1]), float(args[2])
        dist = float(np.linalg.norm(world.object_pos(a) - world.object_pos(b)))
        return dist <= d, f"{a} is {dist:.3f} m from {b} (wanted <= {d})"
    if name == "lifted":
        o, h = obj(args[0]), float(args[1])
        z0 = (start_z or {}).get(o, 0.0)
        z = float(world.object_pos(o)[2])
        return z - z0 >= h, f"{o} is {z - z0:.3f} m above its start (wanted >= {h})"
    raise ValueError(f"unknown predicate '{name}'")


def evaluate(preds: list[Mapping[str, Any]], world: MujocoWorld, bindings: Mapping[str, str],
             start_z: Mapping[str, float] | None = None) -> tuple[bool, list[str]]:
    """All predicates must hold; returns (success, explanations of the failing ones)."""
    failing = []
    for pred in preds:
        ok, why = check(pred, world, bindings, start_z)
        if not ok:
            failing.append(why)
    return not failing, failing
