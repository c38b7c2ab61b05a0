"""End-effector pose integration for RoboBrain-X0 chunks (numpy only).

X0 predicts, per arm and per step, a 7-D delta: position (x, y, z), orientation as an axis-angle
rotation vector, and an absolute gripper opening. Integration from the current pose (position + Euler
``xyz`` angles + gripper) applies each step in turn: positions add, rotations compose as
``R_next = R(delta) · R_current``, the gripper is replaced. A single arm is 7-D, a dual arm 14-D
(first arm in dims 0–6, second in 7–13).
"""

from __future__ import annotations

import numpy as np

ARM_DIM = 7
EMBODIMENT_DIMS = {"single_arm": 7, "dual_arm": 14}


def rotvec_to_matrix(v: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: axis-angle vector (3,) → rotation matrix (3, 3)."""
    theta = float(np.linalg.norm(v))
    if theta < 1e-12:
        return np.eye(3)
    k = v / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * (kx @ kx)


def euler_xyz_to_matrix(e: np.ndarray) -> np.ndarray:
    """Extrinsic x-y-z Euler angles (roll, pitch, yaw) → matrix ``Rz(yaw) Ry(pitch) Rx(roll)``."""
    a, b, c = e
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return rz @ ry @ rx


def matrix_to_euler_xyz(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_xyz_to_matrix` (pitch in [-π/2, π/2])."""
    sb = -float(np.clip(m[2, 0], -1.0, 1.0))
    b = np.arcsin(sb)
    if abs(sb) < 1.0 - 1e-9:
        a = np.arctan2(m[2, 1], m[2, 2])
        c = np.arctan2(m[1, 0], m[0, 0])
    else:  # gimbal lock: put all yaw into roll
        a = np.arctan2(-m[1, 2], m[1, 1])
        c = 0.0
    return np.array([a, b, c])


def integrate_ee_deltas(start: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Absolute poses (T, 7·arms) from the current pose (7·arms,) and per-step deltas (T, 7·arms)."""
    start = np.asarray(start, dtype=np.float64).reshape(-1)
    deltas = np.asarray(deltas, dtype=np.float64)
    if deltas.ndim != 2 or deltas.shape[1] != start.shape[0] or start.shape[0] % ARM_DIM:
        raise ValueError(
            f"pose of {start.shape[0]} dims and deltas of shape {deltas.shape} do not fit {ARM_DIM}-D arms"
        )
    pose = start.copy()
    out = np.empty_like(deltas)
    rots = [euler_xyz_to_matrix(pose[a + 3 : a + 6]) for a in range(0, pose.shape[0], ARM_DIM)]
    for t, d in enumerate(deltas):
        for arm, a in enumerate(range(0, pose.shape[0], ARM_DIM)):
            pose[a : a + 3] += d[a : a + 3]
            rots[arm] = rotvec_to_matrix(d[a + 3 : a + 6]) @ rots[arm]
            pose[a + 3 : a + 6] = matrix_to_euler_xyz(rots[arm])
            pose[a + 6] = d[a + 6]
        out[t] = pose
    return out
