"""A MuJoCo world: one physics model of a scene layout, shared by the robots that act in it.

The world owns ``MjModel``/``MjData`` behind a re-entrant lock, steps the physics, engages and releases
grasp welds, and reads the physical state back as symbols (which object is on or in which place, which
drawer is open) so the cloud's planner and the task predicates see the same world the physics has.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import mujoco
import numpy as np

from roboos.sim.mujoco import mjcf
from roboos.sim.mujoco.render import RenderService
from roboos.sim.mujoco.scenes import ObjectSpec, PlaceSpec, SceneLayout, build_xml, get_layout

OPEN_FRACTION = 0.7  # a drawer counts as open beyond this fraction of its travel
CLOSED_FRACTION = 0.15  # ... and as closed below this one


class MujocoWorld:
    """Physics + symbols of one scene. Thread-safe: every access to ``data`` holds :attr:`lock`."""

    def __init__(self, layout: SceneLayout | str, objects: Sequence[ObjectSpec] = (), *,
                 realtime: bool = False) -> None:
        self.layout = get_layout(layout) if isinstance(layout, str) else layout
        self.objects = {o.name: o for o in objects}
        clash = set(self.objects) & {p.name for p in self.layout.places}
        if clash:
            raise ValueError(f"object names clash with place names: {', '.join(sorted(clash))}")
        self.xml = build_xml(self.layout, list(objects))
        self.model = mujoco.MjModel.from_xml_string(self.xml)
        self.data = mujoco.MjData(self.model)
        self.lock = threading.RLock()
        self.realtime = realtime
        self.steps = 0
        self.places = {p.name: p for p in self.layout.places}
        self._obj_body = {n: self.model.body(n).id for n in self.objects}
        self._obj_qpos = {n: self.model.jnt_qposadr[self.model.joint(f"{n}_free").id] for n in self.objects}
        self._welds: dict[tuple[str, str], int] = {}
        for i in range(self.model.neq):
            name = self.model.equality(i).name
            if name.startswith("grasp__"):
                _, hand, target = name.split("__")
                self._welds[(hand, target)] = i
        self.held: dict[str, str] = {}  # hand body -> target body welded to it
        self._render = RenderService(self.model)
        self._frame = mujoco.MjData(self.model)  # the physics state a frame is rendered from
        self._frame_lock = threading.Lock()  # one frame at a time (the render thread is single anyway)
        self.reset_robots()

    # ------------------------------------------------------------------------------------ stepping
    @property
    def time(self) -> float:
        return float(self.data.time)

    def step(self, n: int = 1) -> None:
        with self.lock:
            mujoco.mj_step(self.model, self.data, nstep=n)
            self.steps += n

    def forward(self) -> None:
        with self.lock:
            mujoco.mj_forward(self.model, self.data)

    def settle(self, seconds: float = 0.3) -> None:
        self.step(max(1, int(seconds / self.model.opt.timestep)))

    # ------------------------------------------------------------------------------------- set-up
    def reset_robots(self) -> None:
        """Arms at home with open grippers, mobile bases at their start poses."""
        m, d = self.model, self.data
        with self.lock:
            for robot in self.layout.robots:
                p = f"{robot.name}_"
                for j, q in zip(mjcf.ARM_JOINTS, mjcf.ARM_HOME):
                    d.qpos[m.jnt_qposadr[m.joint(f"{p}{j}").id]] = q
                    d.ctrl[m.actuator(f"{p}{j}").id] = q
                d.ctrl[m.actuator(f"{p}gripper").id] = mjcf.FINGER_OPEN
                for f in ("finger_l", "finger_r"):
                    d.qpos[m.jnt_qposadr[m.joint(f"{p}{f}").id]] = mjcf.FINGER_OPEN
                if robot.kind == "mobile":
                    for axis, value in zip(("base_x", "base_y", "base_yaw"), robot.base):
                        d.qpos[m.jnt_qposadr[m.joint(f"{p}{axis}").id]] = value
                        d.ctrl[m.actuator(f"{p}{axis}").id] = value
            mujoco.mj_forward(m, d)

    def put_object(self, name: str, xy: tuple[float, float], z: float, yaw: float = 0.0) -> None:
        """Teleport an object (set-up only) to rest at ``(x, y)`` with its bottom at height ``z``."""
        half = mjcf.SHAPES[self.objects[name].kind][2]
        adr = self._obj_qpos[name]
        with self.lock:
            self.data.qpos[adr:adr + 3] = (xy[0], xy[1], z + half + 0.001)
            self.data.qpos[adr + 3:adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
            dof = self.model.jnt_dofadr[self.model.joint(f"{name}_free").id]
            self.data.qvel[dof:dof + 6] = 0.0
            mujoco.mj_forward(self.model, self.data)

    def set_drawer(self, place: str, fraction: float) -> None:
        """Set a drawer's opening (set-up only): 0 closed, 1 fully open."""
        spec = self.places[place]
        assert spec.joint is not None, f"{place} is not openable"
        with self.lock:
            self.data.qpos[self.model.jnt_qposadr[self.model.joint(spec.joint).id]] = fraction * spec.travel
            mujoco.mj_forward(self.model, self.data)

    def scatter(self, placements: Mapping[str, str], rng: np.random.Generator,
                drawers: Mapping[str, float] | None = None) -> None:
        """Put each object at a random free spot of its place (seeded), then let everything settle."""
        for place, fraction in (drawers or {}).items():
            self.set_drawer(place, fraction)
        for name, place in placements.items():
            spot = self.free_spot(place, rng=rng, clearance=0.075)
            if spot is None:
                raise ValueError(f"no free spot for '{name}' at '{place}'")
            self.put_object(name, spot, self.surface_z(place), float(rng.uniform(-0.4, 0.4)))
        self.settle(0.4)

    # ------------------------------------------------------------------------------------- queries
    def object_pos(self, name: str) -> np.ndarray:
        with self.lock:
            return self.data.xpos[self._obj_body[name]].copy()

    def object_yaw(self, name: str) -> float:
        with self.lock:
            w, x, y, z = self.data.xquat[self._obj_body[name]]
        return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))

    def half_height(self, name: str) -> float:
        return mjcf.SHAPES[self.objects[name].kind][2]

    def drawer_fraction(self, place: str) -> float:
        spec = self.places[place]
        if spec.joint is None:
            return 1.0
        with self.lock:
            q = self.data.qpos[self.model.jnt_qposadr[self.model.joint(spec.joint).id]]
        return float(q / spec.travel)

    def is_open(self, place: str) -> bool:
        return self.places[place].joint is None or self.drawer_fraction(place) >= OPEN_FRACTION

    def is_closed(self, place: str) -> bool:
        return self.places[place].joint is not None and self.drawer_fraction(place) <= CLOSED_FRACTION

    def region(self, place: str) -> tuple[float, float, float, float]:
        """The current (cx, cy, hx, hy) of a place's put-down region (drawers move with their drawer)."""
        spec = self.places[place]
        cx, cy = spec.center
        if spec.body is not None:
            with self.lock:
                cx, cy = self.data.xpos[self.model.body(spec.body).id][:2]
        return float(cx), float(cy), spec.half[0], spec.half[1]

    def surface_z(self, place: str) -> float:
        return self.places[place].top

    def holder_of(self, name: str) -> str | None:
        """The robot holding an object (its weld is engaged), else ``None``."""
        for hand, target in self.held.items():
            if target == name:
                return hand.removesuffix("_hand")
        return None

    def location_of(self, name: str) -> str:
        """Where an object is, symbolically: ``robot:<name>`` while held, else a place (or ``floor``)."""
        holder = self.holder_of(name)
        if holder is not None:
            return f"robot:{holder}"
        pos = self.object_pos(name)
        half = self.half_height(name)
        for spec in sorted(self.places.values(), key=lambda p: (p.kind != "container", p.radius is None)):
            if spec.name == "floor" or spec.kind == "station":
                continue
            if self._inside(spec, pos, half):
                return spec.name
        return "floor"

    def _inside(self, spec: PlaceSpec, pos: np.ndarray, half: float) -> bool:
        z_ok = spec.top - 0.02 <= pos[2] - half <= spec.top + (spec.wall if spec.kind == "container" else 0.03)
        if not z_ok:
            return False
        if spec.radius is not None:
            return math.hypot(pos[0] - spec.center[0], pos[1] - spec.center[1]) <= spec.radius + 0.01
        if spec.support is not None and spec.kind == "surface":
            cx, cy, hx, hy = spec.support
        else:
            cx, cy, hx, hy = self.region(spec.name)
        return abs(pos[0] - cx) <= hx + 0.005 and abs(pos[1] - cy) <= hy + 0.005

    def free_spot(self, place: str, *, rng: np.random.Generator | None = None, near: np.ndarray | None = None,
                  clearance: float = 0.07, within: tuple[np.ndarray, float, float] | None = None,
                  ignore: Iterable[str] = ()) -> tuple[float, float] | None:
        """A point of the place's region away from other objects: random (``rng``) or nearest to ``near``.

        ``within=(xy, rmin, rmax)`` keeps only points at a horizontal distance in [rmin, rmax] from xy.
        """
        spec = self.places[place]
        cx, cy, hx, hy = self.region(place)
        if spec.radius is not None:
            hx = hy = spec.radius * 0.6
        margin = 0.025 if spec.kind == "container" else 0.03
        xs = np.linspace(cx - max(hx - margin, 0), cx + max(hx - margin, 0), 9)
        ys = np.linspace(cy - max(hy - margin, 0), cy + max(hy - margin, 0), 9)
        candidates = np.array([(x, y) for x in xs for y in ys])
        if spec.kind == "container":  # one thing at a time near the middle is what fits
            candidates = candidates[np.argsort(np.hypot(candidates[:, 0] - cx, candidates[:, 1] - cy))]
        others = [self.object_pos(o)[:2] for o in self.objects if o not in set(ignore) and self.holder_of(o) is None]
        ok = [c for c in candidates if all(np.hypot(*(c - o)) >= clearance for o in others)]
        if within is not None:
            xy, rmin, rmax = within
            ok = [c for c in ok if rmin <= np.hypot(*(c - xy)) <= rmax]
        if not ok:
            return None
        if rng is not None:
            c = ok[int(rng.integers(len(ok)))]
        elif near is not None:
            c = min(ok, key=lambda c: float(np.hypot(*(c - near))))
        else:
            c = min(ok, key=lambda c: float(np.hypot(c[0] - cx, c[1] - cy)))
        return float(c[0]), float(c[1])

    # --------------------------------------------------------------------------------- grasp welds
    def touching(self, geom_a: int, target_body: int) -> bool:
        """True when geom ``geom_a`` is in contact with any geom of ``target_body``."""
        with self.lock:
            d, m = self.data, self.model
            for i in range(d.ncon):
                g1, g2 = d.contact[i].geom1, d.contact[i].geom2
                if (g1 == geom_a and m.geom_bodyid[g2] == target_body) or (
                        g2 == geom_a and m.geom_bodyid[g1] == target_body):
                    return True
        return False

    def attach(self, hand: str, target: str) -> None:
        """Engage the grasp weld hand <-> target at their current relative pose."""
        eq = self._welds[(hand, target)]
        m, d = self.model, self.data
        with self.lock:
            h, t = m.body(hand).id, m.body(target).id
            hinv_pos, hinv_quat = np.zeros(3), np.zeros(4)
            mujoco.mju_negPose(hinv_pos, hinv_quat, d.xpos[h], d.xquat[h])
            rel_pos, rel_quat = np.zeros(3), np.zeros(4)
            mujoco.mju_mulPose(rel_pos, rel_quat, hinv_pos, hinv_quat, d.xpos[t], d.xquat[t])
            m.eq_data[eq, 0:3] = 0.0
            m.eq_data[eq, 3:6] = rel_pos
            m.eq_data[eq, 6:10] = rel_quat
            m.eq_data[eq, 10] = 1.0
            d.eq_active[eq] = 1
            self.held[hand] = target

    def detach(self, hand: str) -> str | None:
        target = self.held.pop(hand, None)
        if target is not None:
            with self.lock:
                self.data.eq_active[self._welds[(hand, target)]] = 0
        return target

    # ------------------------------------------------------------------------------------- output
    def snapshot(self) -> dict[str, Any]:
        """Symbolic + numeric state for predicates and episode records."""
        return {
            "time": round(self.time, 4),
            "objects": {n: {"location": self.location_of(n), "pos": [round(float(v), 4) for v in self.object_pos(n)]}
                        for n in self.objects},
            "drawers": {p.name: round(self.drawer_fraction(p.name), 3) for p in self.layout.places if p.joint},
            "held": {hand.removesuffix("_hand"): target for hand, target in self.held.items()},
        }

    def render(self, camera: str | None = None, width: int = 224, height: int = 224) -> np.ndarray:
        """An RGB image (``uint8``, H x W x 3) from a named camera (default: the scene's overview).

        The physics state is copied under :attr:`lock` (microseconds) and rendered from the copy without it,
        so stepping the physics and reading robot state never wait for a frame (tens of ms in software GL).
        """
        with self._frame_lock:
            with self.lock:
                mujoco.mj_copyData(self._frame, self.model, self.data)
            return self._render.render(self._frame, camera or self.layout.default_camera, width, height)

    def close(self) -> None:
        self._render.close()
