"""Inverse kinematics of the 6-DoF arm: damped least squares on the grip site's position and orientation.

Solved on a scratch ``MjData`` (the simulation is not disturbed); the target orientation points the
gripper straight down with its fingers closing across a chosen yaw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from roboos.sim.mujoco.mjcf import ARM_JOINTS


class IKError(RuntimeError):
    """No joint configuration reaches the target (out of the workspace)."""


def down_matrix(yaw: float) -> np.ndarray:
    """Rotation of a gripper frame pointing down (z = -world z) with its x axis at ``yaw``."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])  # columns: x, y = z cross x, z


@dataclass
class ArmKinematics:
    """Joint/actuator indices of one arm and its IK solver."""

    model: mujoco.MjModel
    prefix: str

    def __post_init__(self) -> None:
        m, p = self.model, self.prefix
        self.joint_ids = [m.joint(f"{p}{j}").id for j in ARM_JOINTS]
        self.qpos_adr = np.array([m.jnt_qposadr[j] for j in self.joint_ids])
        self.dof_adr = np.array([m.jnt_dofadr[j] for j in self.joint_ids])
        self.ranges = np.array([m.jnt_range[j] for j in self.joint_ids])
        self.actuators = np.array([m.actuator(f"{p}{j}").id for j in ARM_JOINTS])
        self.gripper_actuator = m.actuator(f"{p}gripper").id
        self.finger_qpos = m.jnt_qposadr[m.joint(f"{p}finger_l").id]
        self.site = m.site(f"{p}grip").id
        self.base_body = m.body(f"{p}base").id
        self.hand_body = m.body(f"{p}hand").id
        self.finger_geoms = (m.geom(f"{p}finger_l").id, m.geom(f"{p}finger_r").id)
        self._scratch = mujoco.MjData(m)

    def base_xy(self, data: mujoco.MjData) -> np.ndarray:
        return data.xpos[self.base_body][:2].copy()

    def solve(self, data: mujoco.MjData, pos: np.ndarray, yaw: float, q_init: np.ndarray | None = None,
              iters: int = 150) -> np.ndarray:
        """Joint angles putting the grip site at ``pos`` pointing down at ``yaw`` (or ``yaw + pi``: the
        parallel gripper is symmetric), nearest to ``q_init``; raises :class:`IKError`."""
        solutions, error = [], None
        for candidate in (yaw, yaw + math.pi):
            try:
                solutions.append(self._solve(data, pos, candidate, q_init, iters))
            except IKError as exc:
                error = exc
        if not solutions:
            assert error is not None
            raise error
        start = data.qpos[self.qpos_adr] if q_init is None else q_init
        return min(solutions, key=lambda q: float(np.abs(q - start).max()))

    def _solve(self, data: mujoco.MjData, pos: np.ndarray, yaw: float, q_init: np.ndarray | None,
               iters: int, tol_pos: float = 0.003, tol_rot: float = 0.03) -> np.ndarray:
        scratch = self._scratch
        scratch.qpos[:] = data.qpos
        if q_init is not None:
            scratch.qpos[self.qpos_adr] = q_init
        target = down_matrix(yaw)
        jacp = np.zeros((3, self.model.nv))
        jacr = np.zeros((3, self.model.nv))
        err = np.zeros(6)
        damping = 0.03
        for _ in range(iters):
            mujoco.mj_kinematics(self.model, scratch)
            mujoco.mj_comPos(self.model, scratch)
            err[:3] = pos - scratch.site_xpos[self.site]
            current = scratch.site_xmat[self.site].reshape(3, 3)
            err[3:] = 0.5 * sum(np.cross(current[:, i], target[:, i]) for i in range(3))
            if np.linalg.norm(err[:3]) < tol_pos and np.linalg.norm(err[3:]) < tol_rot:
                return scratch.qpos[self.qpos_adr].copy()
            mujoco.mj_jacSite(self.model, scratch, jacp, jacr, self.site)
            jac = np.vstack([jacp[:, self.dof_adr], 0.5 * jacr[:, self.dof_adr]])
            weighted = np.concatenate([err[:3], 0.5 * err[3:]])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(6), weighted)
            scale = min(1.0, 0.4 / (np.abs(dq).max() + 1e-9))
            q = scratch.qpos[self.qpos_adr] + scale * dq
            scratch.qpos[self.qpos_adr] = np.clip(q, self.ranges[:, 0], self.ranges[:, 1])
        raise IKError(
            f"no arm pose reaches ({pos[0]:.2f}, {pos[1]:.2f}, {pos[2]:.2f}) "
            f"(left {np.linalg.norm(err[:3]) * 100:.1f} cm away)"
        )
