"""A benchmark library of realistic robot skills and annotated instructions (``roboos bench skills``)."""

from roboos.skills.benchlib.library import bench_cards, bench_skills, load_instructions

__all__ = ["bench_cards", "bench_skills", "load_instructions"]
