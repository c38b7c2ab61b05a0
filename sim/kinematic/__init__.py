"""Kinematic household/tabletop world and the simulated robots that act in it (``roboos.sim.kinematic``)."""
