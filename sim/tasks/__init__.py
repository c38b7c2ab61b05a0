"""Declarative task suites for the MuJoCo scenes: sampling, instructions, success predicates (``roboos.sim.tasks``)."""
