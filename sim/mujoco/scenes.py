"""The MuJoCo scenes: a tabletop (one fixed arm) and a household (fixed arm + mobile manipulator).

A :class:`SceneLayout` is the symbolic description (places with regions and mobile stand poses, robots,
cameras) plus the MJCF of its furniture; :func:`build_xml` adds the robots and a task's objects and
returns one MJCF document. Objects are placed later by the world (their free joints' ``qpos``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from roboos.sim.mujoco import mjcf


@dataclass(frozen=True)
class PlaceSpec:
    """A named place: a surface region, an (openable) container, or a station (a parking spot)."""

    name: str
    kind: str  # surface | container | station
    center: tuple[float, float]  # world x, y of the region centre (closed drawer: its interior)
    top: float  # z of the support surface (table top, bin floor, drawer floor)
    half: tuple[float, float] = (0.1, 0.1)  # region half extents along x and y (where things are put)
    support: tuple[float, float, float, float] | None = None  # (cx, cy, hx, hy): whole top, for "is on"
    radius: float | None = None  # circular region (plate)
    body: str | None = None  # moving body that carries the region (a drawer)
    joint: str | None = None  # slide joint of an openable container
    handle: str | None = None  # site to grasp to open/close
    open_axis: tuple[float, float] = (0.0, 0.0)  # world direction the drawer opens along
    travel: float = 0.0
    stand: tuple[float, float, float] | None = None  # mobile base pose (x, y, yaw) to work here
    wall: float = 0.0  # container wall height above ``top``
    spawn: bool = False  # tasks may spawn objects here
    description: str = ""

    @property
    def openable(self) -> bool:
        return self.joint is not None


@dataclass(frozen=True)
class RobotSpec:
    name: str
    kind: str  # arm | mobile
    base: tuple[float, float, float]  # arm base (fixed arm) or start pose x, y, yaw (mobile)
    yaw: float = 0.0
    home: str | None = None  # station / place the robot starts at


@dataclass(frozen=True)
class SceneLayout:
    name: str
    description: str
    places: tuple[PlaceSpec, ...]
    robots: tuple[RobotSpec, ...]
    furniture: tuple[str, ...]
    cameras: tuple[str, ...]
    default_camera: str = "overview"
    arm_mount: tuple[float, float, float] = (0.15, 0.0, 0.55)  # arm base on a mobile chassis (local)
    extras: dict[str, float] = field(default_factory=dict)

    def place(self, name: str) -> PlaceSpec:
        for p in self.places:
            if p.name == name:
                return p
        raise KeyError(name)


TABLE_H = 0.75
DRAWER = mjcf.DrawerGeometry()


def _drawer_place(name: str, cabinet: tuple[float, float, float], yaw: float, stand=None) -> PlaceSpec:
    x, y, z = cabinet
    return PlaceSpec(name=name, kind="container", center=(x, y), top=z + DRAWER.base + 0.008,
                     half=DRAWER.inner_half, body=f"{name}_drawer", joint=f"{name}_slide",
                     handle=f"{name}_handle_site", open_axis=(-math.cos(yaw), -math.sin(yaw)), travel=DRAWER.travel,
                     wall=DRAWER.depth, stand=stand, description="a drawer; open it before putting things in")


def tabletop() -> SceneLayout:
    """One 6-DoF arm at the back edge of a table with a plate, a bin and a drawer cabinet."""
    cabinet = (0.55, 0.38, TABLE_H)
    places = (
        PlaceSpec("table", "surface", center=(0.38, -0.05), top=TABLE_H, half=(0.14, 0.16), spawn=True,
                  support=(0.35, 0.0, 0.55, 0.7), description="the table top"),
        PlaceSpec("plate", "surface", center=(0.2, 0.22), top=TABLE_H + 0.012, radius=0.075),
        PlaceSpec("bin", "container", center=(0.38, -0.36), top=TABLE_H + 0.016, half=(0.07, 0.07), wall=0.07),
        _drawer_place("drawer", cabinet, 0.0),
        PlaceSpec("floor", "surface", center=(0.0, 0.0), top=0.0, half=(10.0, 10.0)),
    )
    furniture = (
        mjcf.table("table_body", (0.35, 0.0), (0.55, 0.7), TABLE_H),
        mjcf.plate("plate", (0.2, 0.22, TABLE_H)),
        mjcf.bin_box("bin", (0.38, -0.36, TABLE_H), (0.075, 0.075)),
        mjcf.drawer_cabinet("drawer", cabinet, 0.0, DRAWER),
    )
    cameras = (
        mjcf.camera("overview", (1.25, -0.75, 1.55), (0.35, 0.0, 0.8)),
        mjcf.camera("front", (1.1, 0.0, 1.2), (0.35, 0.0, 0.78), fovy=60),
        mjcf.camera("top", (0.35, 0.0, 2.0), (0.35, 0.001, 0.75), fovy=50),
    )
    return SceneLayout(name="tabletop", description="a table with a fixed 6-DoF arm, a plate, a bin and a drawer",
                       places=places, robots=(RobotSpec("arm1", "arm", (0.0, 0.0, TABLE_H)),),
                       furniture=furniture, cameras=cameras)


def household() -> SceneLayout:
    """A room: a workbench with a fixed arm and a bin, a counter, a dining table, a drawer sideboard, a dock."""
    side_h = 0.6
    cabinet = (4.0, 0.0, side_h)
    places = (
        PlaceSpec("workbench", "surface", center=(0.55, 0.14), top=TABLE_H, half=(0.1, 0.13), spawn=True,
                  support=(0.45, 0.0, 0.45, 0.55), stand=(1.22, 0.14, math.pi),
                  description="the workbench of the fixed arm"),
        PlaceSpec("bin", "container", center=(0.55, -0.32), top=TABLE_H + 0.016, half=(0.07, 0.07), wall=0.07,
                  stand=(1.22, -0.3, math.pi), description="a bin on the workbench"),
        PlaceSpec("counter", "surface", center=(2.5, 1.45), top=TABLE_H, half=(0.22, 0.1), spawn=True,
                  support=(2.5, 1.6, 0.6, 0.3), stand=(2.5, 0.95, math.pi / 2)),
        PlaceSpec("dining_table", "surface", center=(2.5, -1.45), top=TABLE_H, half=(0.22, 0.1), spawn=True,
                  support=(2.5, -1.6, 0.6, 0.35), stand=(2.5, -0.95, -math.pi / 2)),
        _drawer_place("drawer", cabinet, 0.0, stand=(3.28, 0.0, 0.0)),
        PlaceSpec("dock", "station", center=(1.6, 1.2), top=0.0, stand=(1.6, 1.2, 0.0),
                  description="charging dock of the mobile manipulator"),
        PlaceSpec("floor", "surface", center=(0.0, 0.0), top=0.0, half=(10.0, 10.0)),
    )
    furniture = (
        mjcf.table("workbench_body", (0.45, 0.0), (0.45, 0.55), TABLE_H, material="light_wood"),
        mjcf.bin_box("bin", (0.55, -0.32, TABLE_H), (0.075, 0.075)),
        mjcf.table("counter_body", (2.5, 1.6), (0.6, 0.3), TABLE_H),
        mjcf.table("dining_table_body", (2.5, -1.6), (0.6, 0.35), TABLE_H),
        mjcf.table("sideboard", (4.05, 0.0), (0.2, 0.35), side_h),
        mjcf.drawer_cabinet("drawer", cabinet, 0.0, DRAWER),
        '    <geom name="dock_pad" type="box" size="0.35 0.3 0.003" pos="1.6 1.2 0.003" rgba="0.2 0.6 0.3 1"'
        ' contype="0" conaffinity="0"/>',
    )
    cameras = (
        mjcf.camera("overview", (2.2, -4.1, 3.3), (2.1, 0.05, 0.45), fovy=62),
        mjcf.camera("workbench", (1.5, -0.9, 1.6), (0.4, 0.0, 0.75), fovy=60),
        mjcf.camera("top", (2.0, 0.0, 7.5), (2.0, 0.001, 0.0), fovy=60),
    )
    robots = (RobotSpec("arm1", "arm", (0.12, 0.0, TABLE_H)),
              RobotSpec("rover1", "mobile", (1.6, 1.2, 0.0), home="dock"))
    return SceneLayout(name="household", description="a room with a workbench arm and a mobile manipulator",
                       places=places, robots=robots, furniture=furniture, cameras=cameras)


LAYOUTS = {"tabletop": tabletop, "household": household}


def get_layout(name: str) -> SceneLayout:
    try:
        return LAYOUTS[name]()
    except KeyError:
        raise KeyError(f"unknown MuJoCo scene '{name}'; scenes: {', '.join(LAYOUTS)}") from None


@dataclass(frozen=True)
class ObjectSpec:
    """An object of a task: unique name, shape kind and colour (placed by the world at reset)."""

    name: str
    kind: str
    color: str


def build_xml(layout: SceneLayout, objects: list[ObjectSpec] | tuple[ObjectSpec, ...]) -> str:
    """The whole MJCF document of a scene with its robots and objects."""
    body = [mjcf.HEADER.format(model=f"roboos_{layout.name}"), *layout.furniture, *layout.cameras]
    actuators: list[str] = []
    equalities: list[str] = []
    hands: list[str] = []
    for robot in layout.robots:
        p = f"{robot.name}_"
        if robot.kind == "arm":
            body.append(mjcf.arm(p, robot.base, robot.yaw))
        else:
            body.append(mjcf.mobile_base(p, mjcf.arm(p, layout.arm_mount)))
            actuators.append(mjcf.base_actuators(p))
        actuators.append(mjcf.arm_actuators(p))
        equalities.append(mjcf.arm_equalities(p))
        hands.append(f"{p}hand")
    for i, obj in enumerate(objects):
        body.append(mjcf.graspable(obj.name, obj.kind, obj.color, (10.0 + i, 10.0, 0.1)))
    grasp_targets = [o.name for o in objects] + [p.body for p in layout.places if p.body]
    for hand in hands:
        for target in grasp_targets:
            equalities.append(mjcf.weld(f"grasp__{hand}__{target}", hand, target))
    return mjcf.finish(body, actuators, equalities)
