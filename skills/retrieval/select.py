"""The planner hook: retrieval narrows the skills in the prompt, and widens on a replan.

``LLMPlanner(select_skills=RetrievalSelector())`` lists only the top-k compact cards for the instruction.
Plans are still validated against every skill of the robots, so a plan naming an existing skill that was
not retrieved is accepted, not failed; and when the same instruction is planned again (a replan after a
failure or an invalid plan) the selector doubles k, so the next prompt carries a wider skill set.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

from roboos.skills.card import SkillCard
from roboos.skills.retrieval.retriever import SkillRetriever


class RetrievalSelector:
    """``select(instruction, cards) -> cards``: top-k by hybrid retrieval, k doubling per repeat."""

    def __init__(self, k: int = 24, *, max_k: int = 96, embedder: Any | Literal["auto"] = "auto",
                 retriever: SkillRetriever | None = None) -> None:
        self.k = k
        self.max_k = max_k
        self._retriever = retriever
        self._embedder = embedder
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def retriever(self) -> SkillRetriever:
        if self._retriever is None:  # lazy: the embedding model loads on the first planning call
            self._retriever = SkillRetriever(self._embedder)
        return self._retriever

    def k_for(self, instruction: str) -> int:
        """k for this call: ``k`` the first time, doubled for each repeat of the same instruction."""
        with self._lock:
            repeats = self._seen.pop(instruction, -1) + 1
            self._seen[instruction] = repeats
            while len(self._seen) > 256:
                self._seen.popitem(last=False)
        return min(self.k * (2 ** repeats), self.max_k)

    def __call__(self, instruction: str, cards: Sequence[SkillCard]) -> list[SkillCard]:
        if len(cards) <= self.k:
            return list(cards)
        return [r.card for r in self.retriever.retrieve(instruction, cards, k=self.k_for(instruction))]
