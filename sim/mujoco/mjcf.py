"""MJCF (MuJoCo XML) building blocks written for RoboOS: a 6-DoF arm with a parallel gripper, a wheeled
(holonomic) mobile base, furniture (tables, a bin, a drawer cabinet, a plate) and graspable objects.

Scenes (:mod:`roboos.sim.mujoco.scenes`) assemble these into one model. Names are prefixed per robot so
several robots live in one model. Arm links are visual only (no collisions); fingers, furniture and
objects collide. Arm bodies use gravity compensation so position actuators track their targets closely.
"""

from __future__ import annotations

from dataclasses import dataclass

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.1),
    "green": (0.15, 0.7, 0.2),
    "blue": (0.12, 0.3, 0.85),
    "yellow": (0.95, 0.8, 0.1),
    "orange": (0.95, 0.5, 0.08),
    "purple": (0.55, 0.2, 0.7),
    "white": (0.92, 0.92, 0.92),
    "black": (0.12, 0.12, 0.12),
    "cyan": (0.1, 0.75, 0.8),
}

# object kind -> (geom type, size attribute, half height); sizes fit the gripper (opening 2 x 0.045 m)
SHAPES: dict[str, tuple[str, str, float]] = {
    "cube": ("box", "0.022 0.022 0.022", 0.022),
    "block": ("box", "0.02 0.035 0.02", 0.02),
    "can": ("cylinder", "0.022 0.035", 0.035),
    "cup": ("cylinder", "0.026 0.03", 0.03),
    "ball": ("sphere", "0.024", 0.024),
    "pill": ("capsule", "0.018 0.018", 0.036),
}

ARM_JOINTS = ("j1", "j2", "j3", "j4", "j5", "j6")
ARM_HOME = (0.0, -0.35, 1.9, 0.0, 1.6, 0.0)  # elbow up, gripper pointing down, above the table
FINGER_OPEN = 0.045
HANDLE_GRIP = 0.024  # finger opening used to grasp a drawer handle
HANDLE_OUT = 0.07  # how far a drawer handle stands out of the drawer front
UPPER_ARM, FOREARM, WRIST, GRIP_OFFSET = 0.36, 0.32, 0.06, 0.135

HEADER = """<mujoco model="{model}">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="5"/>
  <size memory="16M"/>
  <visual>
    <global offwidth="1280" offheight="960" azimuth="150" elevation="-30"/>
    <quality shadowsize="1024"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.5 0.5 0.5"/>
  </visual>
  <asset>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.82 0.82 0.8" rgb2="0.72 0.72 0.7"
             width="256" height="256"/>
    <material name="floor" texture="floor" texrepeat="10 10"/>
    <material name="wood" rgba="0.62 0.45 0.3 1"/>
    <material name="light_wood" rgba="0.78 0.64 0.46 1"/>
    <material name="metal" rgba="0.55 0.57 0.6 1"/>
    <material name="arm" rgba="0.9 0.9 0.92 1"/>
    <material name="joint" rgba="0.25 0.27 0.3 1"/>
    <material name="base" rgba="0.2 0.35 0.55 1"/>
  </asset>
  <default>
    <geom friction="1.2 0.01 0.001" solref="0.005 1"/>
    <default class="visual"><geom contype="0" conaffinity="0" density="300"/></default>
    <default class="arm_joint"><joint damping="8" armature="0.05" limited="true"/></default>
    <default class="finger"><geom contype="1" conaffinity="1" friction="2 0.02 0.002" condim="4"
                                   solref="0.004 1" density="500" material="joint"/></default>
    <default class="furniture"><geom contype="1" conaffinity="1" material="wood"/></default>
    <default class="object"><geom contype="1" conaffinity="1" condim="4" density="400"
                                  friction="1.5 0.02 0.002"/></default>
  </default>
  <worldbody>
    <light name="sun" pos="0 0 4" dir="0 0 -1" diffuse="0.6 0.6 0.6" castshadow="true"/>
    <geom name="floor" type="plane" size="12 12 0.05" material="floor" contype="1" conaffinity="1"/>
"""


def arm(prefix: str, pos: tuple[float, float, float], yaw: float = 0.0) -> str:
    """A 6-DoF arm (yaw, shoulder, elbow, forearm roll, wrist pitch, tool roll) with a parallel gripper.

    The grip site ``{prefix}grip`` sits between the fingertips; bodies ``{prefix}hand`` and the finger
    geoms ``{prefix}finger_l`` / ``{prefix}finger_r`` are used for grasping.
    """
    p = prefix
    x, y, z = pos
    return f"""
    <body name="{p}base" pos="{x} {y} {z}" euler="0 0 {yaw}" gravcomp="1">
      <geom class="visual" type="cylinder" size="0.07 0.04" pos="0 0 0.04" material="joint"/>
      <body name="{p}link1" pos="0 0 0.08" gravcomp="1">
        <joint name="{p}j1" class="arm_joint" axis="0 0 1" range="-3.14 3.14"/>
        <geom class="visual" type="cylinder" size="0.055 0.05" pos="0 0 0.05" material="arm"/>
        <body name="{p}link2" pos="0 0 0.1" gravcomp="1">
          <joint name="{p}j2" class="arm_joint" axis="0 1 0" range="-2.2 2.2"/>
          <geom class="visual" type="capsule" fromto="0 0 0 0 0 {UPPER_ARM}" size="0.04" material="arm"/>
          <geom class="visual" type="cylinder" size="0.045 0.05" euler="1.5708 0 0" material="joint"/>
          <body name="{p}link3" pos="0 0 {UPPER_ARM}" gravcomp="1">
            <joint name="{p}j3" class="arm_joint" axis="0 1 0" range="-2.7 2.7"/>
            <geom class="visual" type="cylinder" size="0.04 0.045" euler="1.5708 0 0" material="joint"/>
            <geom class="visual" type="capsule" fromto="0 0 0 0 0 {FOREARM}" size="0.033" material="arm"/>
            <body name="{p}link4" pos="0 0 {FOREARM}" gravcomp="1">
              <joint name="{p}j4" class="arm_joint" axis="0 0 1" range="-3.14 3.14"/>
              <geom class="visual" type="cylinder" size="0.034 0.012" material="joint"/>
              <body name="{p}link5" pos="0 0 0" gravcomp="1">
                <joint name="{p}j5" class="arm_joint" axis="0 1 0" range="-2.4 2.4"/>
                <geom class="visual" type="cylinder" size="0.032 0.035" euler="1.5708 0 0" material="joint"/>
                <geom class="visual" type="capsule" fromto="0 0 0 0 0 {WRIST}" size="0.028" material="arm"/>
                <body name="{p}hand" pos="0 0 {WRIST}" gravcomp="1">
                  <joint name="{p}j6" class="arm_joint" axis="0 0 1" range="-3.14 3.14"/>
                  <geom class="visual" type="box" size="0.03 0.065 0.018" pos="0 0 0.02" material="joint"/>
                  <site name="{p}grip" pos="0 0 {GRIP_OFFSET}" size="0.006" rgba="1 0.2 0.2 0.5"/>
                  <camera name="{p}wrist_cam" pos="0.06 0 0.02" xyaxes="0 1 0 0.97 0 0.25" fovy="70"/>
                  <body name="{p}finger_l_body" pos="0 0 0.035" gravcomp="1">
                    <joint name="{p}finger_l" type="slide" axis="0 1 0" range="0 {FINGER_OPEN}" damping="3"
                           armature="0.01"/>
                    <geom name="{p}finger_l" class="finger" type="box" size="0.012 0.006 0.055"
                          pos="0 0.006 0.055"/>
                  </body>
                  <body name="{p}finger_r_body" pos="0 0 0.035" gravcomp="1">
                    <joint name="{p}finger_r" type="slide" axis="0 -1 0" range="0 {FINGER_OPEN}" damping="3"
                           armature="0.01"/>
                    <geom name="{p}finger_r" class="finger" type="box" size="0.012 0.006 0.055"
                          pos="0 -0.006 0.055"/>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


def arm_actuators(prefix: str) -> str:
    """Position actuators of an arm's joints and of its gripper (one command drives both fingers)."""
    gains = {"j1": 600, "j2": 900, "j3": 700, "j4": 250, "j5": 250, "j6": 120}
    rows = [f'    <position name="{prefix}{j}" joint="{prefix}{j}" kp="{gains[j]}" ctrlrange="-3.14 3.14"/>'
            for j in ARM_JOINTS]
    rows.append(f'    <position name="{prefix}gripper" joint="{prefix}finger_l" kp="300" ctrlrange="0 {FINGER_OPEN}"'
                f' forcerange="-40 40"/>')
    return "\n".join(rows)


def arm_equalities(prefix: str) -> str:
    return f'    <joint joint1="{prefix}finger_r" joint2="{prefix}finger_l" polycoef="0 1 0 0 0"/>'


def mobile_base(prefix: str, arm_xml: str) -> str:
    """A holonomic wheeled base (planar x / y / yaw joints; it ignores furniture collisions) carrying an arm.

    The base starts at the world origin; its start pose is set through the joints' ``qpos``.
    """
    p = prefix
    wheels = "\n".join(
        f'        <geom class="visual" type="cylinder" size="0.07 0.025" pos="{wx} {wy} 0.07" '
        f'euler="1.5708 0 0" material="joint"/>'
        for wx, wy in ((0.2, 0.19), (0.2, -0.19), (-0.2, 0.19), (-0.2, -0.19)))
    return f"""
    <body name="{p}mount" pos="0 0 0">
      <body name="{p}chassis" pos="0 0 0">
        <joint name="{p}base_x" type="slide" axis="1 0 0" range="-20 20" damping="60" armature="5"/>
        <joint name="{p}base_y" type="slide" axis="0 1 0" range="-20 20" damping="60" armature="5"/>
        <joint name="{p}base_yaw" type="hinge" axis="0 0 1" range="-100 100" damping="40" armature="2"/>
        <geom class="visual" type="box" size="0.28 0.2 0.13" pos="0 0 0.2" material="base" density="200"/>
        <geom class="visual" type="box" size="0.1 0.1 0.11" pos="0.15 0 0.44" material="metal"/>
{wheels}
        <camera name="{p}head_cam" pos="-0.1 0 1.1" xyaxes="0 -1 0 0.6 0 0.8" fovy="75"/>
{arm_xml}
      </body>
    </body>"""


def base_actuators(prefix: str) -> str:
    return "\n".join([
        f'    <position name="{prefix}base_x" joint="{prefix}base_x" kp="3000" ctrlrange="-20 20"/>',
        f'    <position name="{prefix}base_y" joint="{prefix}base_y" kp="3000" ctrlrange="-20 20"/>',
        f'    <position name="{prefix}base_yaw" joint="{prefix}base_yaw" kp="1500" ctrlrange="-100 100"/>',
    ])


def table(name: str, center: tuple[float, float], half: tuple[float, float], height: float,
          material: str = "wood") -> str:
    """A table: top slab at ``height`` plus four legs."""
    x, y = center
    hx, hy = half
    legs = "\n".join(
        f'      <geom class="furniture" type="box" size="0.025 0.025 {height / 2 - 0.02:.3f}" '
        f'pos="{sx * (hx - 0.05):.3f} {sy * (hy - 0.05):.3f} {height / 2 - 0.02:.3f}" material="{material}"/>'
        for sx in (-1, 1) for sy in (-1, 1))
    return f"""
    <body name="{name}" pos="{x} {y} 0">
      <geom name="{name}_top" class="furniture" type="box" size="{hx} {hy} 0.02" pos="0 0 {height - 0.02}"
            material="{material}"/>
{legs}
    </body>"""


def plate(name: str, pos: tuple[float, float, float], radius: float = 0.075) -> str:
    x, y, z = pos
    return f"""
    <body name="{name}" pos="{x} {y} {z}">
      <geom name="{name}_disc" class="furniture" type="cylinder" size="{radius} 0.006" pos="0 0 0.006"
            rgba="0.95 0.95 0.9 1"/>
    </body>"""


def bin_box(name: str, pos: tuple[float, float, float], half: tuple[float, float], wall: float = 0.07) -> str:
    """An open box (container) standing at ``pos`` with inner half extents ``half`` and wall height ``wall``."""
    x, y, z = pos
    hx, hy = half
    t = 0.008
    return f"""
    <body name="{name}" pos="{x} {y} {z}">
      <geom class="furniture" type="box" size="{hx + t} {hy + t} {t}" pos="0 0 {t}" material="metal"/>
      <geom class="furniture" type="box" size="{t} {hy + t} {wall / 2}" pos="{hx + t} 0 {wall / 2}" material="metal"/>
      <geom class="furniture" type="box" size="{t} {hy + t} {wall / 2}" pos="{-hx - t} 0 {wall / 2}" material="metal"/>
      <geom class="furniture" type="box" size="{hx + t} {t} {wall / 2}" pos="0 {hy + t} {wall / 2}" material="metal"/>
      <geom class="furniture" type="box" size="{hx + t} {t} {wall / 2}" pos="0 {-hy - t} {wall / 2}" material="metal"/>
    </body>"""


@dataclass(frozen=True)
class DrawerGeometry:
    """A cabinet with one drawer sliding along the cabinet's local -x (its front faces -x)."""

    inner_half: tuple[float, float] = (0.075, 0.1)  # drawer interior, x by y
    depth: float = 0.07  # drawer wall height
    travel: float = 0.16  # how far it opens
    base: float = 0.015  # gap under the drawer


def drawer_cabinet(name: str, pos: tuple[float, float, float], yaw: float, geo: DrawerGeometry,
                   open_: float = 0.0) -> str:
    """Cabinet ``name`` with drawer body ``{name}_drawer`` on slide joint ``{name}_slide`` and a handle."""
    x, y, z = pos
    hx, hy = geo.inner_half
    t, d, b = 0.008, geo.depth, geo.base
    top = b + d + 0.03
    return f"""
    <body name="{name}" pos="{x} {y} {z}" euler="0 0 {yaw}">
      <geom class="furniture" type="box" size="{hx + 2 * t} {t} {top / 2}" pos="0 {hy + 2 * t + t} {top / 2}"
            material="light_wood"/>
      <geom class="furniture" type="box" size="{hx + 2 * t} {t} {top / 2}" pos="0 {-hy - 3 * t} {top / 2}"
            material="light_wood"/>
      <geom class="furniture" type="box" size="{t} {hy + 4 * t} {top / 2}" pos="{hx + 3 * t} 0 {top / 2}"
            material="light_wood"/>
      <geom class="furniture" type="box" size="{hx + 3 * t} {hy + 4 * t} {t}" pos="0 0 {top + t}"
            material="light_wood"/>
      <body name="{name}_drawer" pos="0 0 {b}">
        <joint name="{name}_slide" type="slide" axis="-1 0 0" range="0 {geo.travel}" damping="8" frictionloss="3"
               ref="0" armature="0.5"/>
        <geom class="furniture" type="box" size="{hx + t} {hy + t} {t / 2}" pos="0 0 {t / 2}" material="wood"/>
        <geom class="furniture" type="box" size="{t / 2} {hy + t} {d / 2}" pos="{hx + t} 0 {d / 2}" material="wood"/>
        <geom class="furniture" type="box" size="{t / 2} {hy + t} {d / 2 + 0.012}" pos="{-hx - t} 0 {d / 2 + 0.012}"
              material="wood"/>
        <geom class="furniture" type="box" size="{hx + t} {t / 2} {d / 2}" pos="0 {hy + t} {d / 2}" material="wood"/>
        <geom class="furniture" type="box" size="{hx + t} {t / 2} {d / 2}" pos="0 {-hy - t} {d / 2}" material="wood"/>
        <geom name="{name}_handle" class="furniture" type="box" size="0.01 0.04 0.01"
              pos="{-hx - t - HANDLE_OUT} 0 {d / 2 + 0.012}" material="metal"/>
        <geom class="furniture" type="box" size="{HANDLE_OUT / 2} 0.006 0.008"
              pos="{-hx - t - HANDLE_OUT / 2} 0.034 {d / 2 + 0.012}" material="metal"/>
        <geom class="furniture" type="box" size="{HANDLE_OUT / 2} 0.006 0.008"
              pos="{-hx - t - HANDLE_OUT / 2} -0.034 {d / 2 + 0.012}" material="metal"/>
        <site name="{name}_handle_site" pos="{-hx - t - HANDLE_OUT} 0 {d / 2 + 0.012}" size="0.005"/>
        <site name="{name}_inside" pos="0 0 {t}" size="0.005"/>
      </body>
    </body>"""


def graspable(name: str, kind: str, color: str, pos: tuple[float, float, float], yaw: float = 0.0) -> str:
    """A free object of a known shape and colour; its body and geom are both called ``name``."""
    geom_type, size, _ = SHAPES[kind]
    r, g, b = COLORS[color]
    x, y, z = pos
    return f"""
    <body name="{name}" pos="{x} {y} {z}" euler="0 0 {yaw}">
      <freejoint name="{name}_free"/>
      <geom name="{name}" class="object" type="{geom_type}" size="{size}" rgba="{r} {g} {b} 1"/>
    </body>"""


def camera(name: str, pos: tuple[float, float, float], target: tuple[float, float, float], fovy: float = 55) -> str:
    """A fixed camera at ``pos`` looking at ``target`` (uses a target-less xyaxes computation)."""
    import numpy as np

    forward = np.asarray(target, float) - np.asarray(pos, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    axes = " ".join(f"{v:.4f}" for v in (*right, *up))
    return f'    <camera name="{name}" pos="{pos[0]} {pos[1]} {pos[2]}" xyaxes="{axes}" fovy="{fovy}"/>'


def weld(name: str, body1: str, body2: str) -> str:
    """An inactive weld used as the grasp assist between a hand and an object (or a drawer)."""
    return f'    <weld name="{name}" body1="{body1}" body2="{body2}" active="false" solref="0.004 1"/>'


def finish(worldbody: list[str], actuators: list[str], equalities: list[str]) -> str:
    """Close the document: ``HEADER`` must have been formatted already and passed in ``worldbody[0]``."""
    return "\n".join([
        *worldbody,
        "  </worldbody>",
        "  <equality>",
        *equalities,
        "  </equality>",
        "  <actuator>",
        *actuators,
        "  </actuator>",
        "</mujoco>",
    ])
