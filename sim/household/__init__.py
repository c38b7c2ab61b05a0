"""The household skill set shared by every simulated manipulator (kinematic and MuJoCo) — ``roboos.sim.household``."""
