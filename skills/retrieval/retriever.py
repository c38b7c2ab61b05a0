"""Hybrid skill retrieval: BM25 (bm25s) fused with dense embeddings, filtered by embodiment.

A task such as "go to the kitchen, pick up the mug and put it in the sink" needs several skills, so the
query is split into clauses; each clause (and the whole task) ranks the skills by a weighted sum of
max-normalised BM25 and cosine similarity, and the top-k list interleaves those rankings so every
clause gets its best skills in. A retrieved skill whose declared precondition (e.g. "holding an
object") is made true by another skill's declared effect pulls the best such provider in with it. Without an embedding model the same pipeline runs on BM25 alone.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from roboos.skills.card import SkillCard
from roboos.skills.retrieval.embedder import Embedder, load_default_embedder

_CLAUSE_SPLIT = re.compile(
    r"[.;:!?]|,|\b(?:and then|then|after that|afterwards|and|before|finally|next|while|once|so that|"
    r"also|plus)\b",
    re.IGNORECASE,
)
_STOPWORDS = "en"


@dataclass(frozen=True)
class Retrieved:
    """One retrieved skill with its fused score."""

    card: SkillCard
    score: float


def split_clauses(task: str, min_words: int = 2) -> list[str]:
    """Split a task into action clauses ("go to X", "pick up Y", ...); keeps clauses of >= min_words."""
    parts = [" ".join(p.split()) for p in _CLAUSE_SPLIT.split(task) if p]
    return [p for p in parts if len(p.split()) >= min_words]


def _card_key(card: SkillCard) -> str:
    text = f"{card.name}|{card.version}|{card.search_text()}|{card.purpose_text()}"
    return hashlib.sha1(text.encode()).hexdigest()


class _Corpus:
    """The BM25 index and embedding matrix of one list of cards."""

    def __init__(self, cards: list[SkillCard], vectors: np.ndarray | None) -> None:
        import bm25s

        self.cards = cards
        self.embodiments = [frozenset(c.embodiments) for c in cards]
        texts = [c.search_text() for c in cards]
        self.bm25 = bm25s.BM25()
        self.bm25.index(self._tokenize(texts), show_progress=False)
        self.vectors = vectors
        self.providers: dict[str, list[int]] = {}
        for i, card in enumerate(cards):
            for effect in card.effects:
                self.providers.setdefault(effect, []).append(i)

    @staticmethod
    def _tokenize(texts: list[str]) -> Any:
        import bm25s

        return bm25s.tokenize(texts, stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False)

    def bm25_scores(self, query: str) -> np.ndarray:
        import bm25s

        tokens = bm25s.tokenize([query], stopwords=_STOPWORDS, stemmer=_stemmer(), return_ids=False,
                                show_progress=False)[0]
        if not tokens:
            return np.zeros(len(self.cards), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)


_STEMMER: list[Any] = []


def _stemmer() -> Any:
    """The Snowball English stemmer (PyStemmer) when installed, else no stemming."""
    if not _STEMMER:
        try:
            import Stemmer

            _STEMMER.append(Stemmer.Stemmer("english").stemWords)
        except ImportError:
            _STEMMER.append(None)
    return _STEMMER[0]


class SkillRetriever:
    """Top-k skill cards for a task. ``embedder="auto"`` loads all-MiniLM-L6-v2 when it is installed.

    Args:
        embedder: an :class:`Embedder`, ``None`` for BM25 only, or ``"auto"`` for the default model
            (falling back to BM25 when it is absent).
        alpha: weight of the dense score in the fusion (``1 - alpha`` goes to BM25).
        split: rank clause by clause (recommended for multi-step tasks).
        providers_per_condition: how many skills that satisfy a retrieved skill's precondition to add.
    """

    def __init__(self, embedder: Embedder | None | Literal["auto"] = "auto", *, alpha: float = 0.6,
                 split: bool = True, providers_per_condition: int = 2) -> None:
        self.embedder: Embedder | None = load_default_embedder() if embedder == "auto" else embedder
        self.alpha = alpha if self.embedder is not None else 0.0
        self.split = split
        self.providers_per_condition = providers_per_condition
        self._vectors: dict[str, np.ndarray] = {}
        self._corpora: dict[tuple[str, ...], _Corpus] = {}
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        """``"hybrid"`` with an embedding model, ``"bm25"`` without."""
        return "hybrid" if self.embedder is not None else "bm25"

    def _corpus(self, cards: Sequence[SkillCard]) -> _Corpus:
        unique: dict[str, SkillCard] = {}
        for card in cards:
            unique.setdefault(card.name, card)
        ordered = [unique[n] for n in sorted(unique)]
        keys = tuple(_card_key(c) for c in ordered)
        with self._lock:
            corpus = self._corpora.get(keys)
            if corpus is not None:
                return corpus
            vectors = None
            if self.embedder is not None:
                missing = [(k, c) for k, c in zip(keys, ordered) if k not in self._vectors]
                if missing:
                    encoded = self.embedder.encode([c.purpose_text() for _, c in missing])
                    for (key, _), vec in zip(missing, encoded):
                        self._vectors[key] = vec
                vectors = np.stack([self._vectors[k] for k in keys]) if keys else None
            corpus = _Corpus(ordered, vectors)
            if len(self._corpora) > 32:
                self._corpora.pop(next(iter(self._corpora)))
            self._corpora[keys] = corpus
            return corpus

    def warm(self, cards: Sequence[SkillCard]) -> None:
        """Index (and embed) a card set ahead of the first query."""
        if cards:
            self._corpus(cards)

    def _scores(self, corpus: _Corpus, queries: list[str]) -> np.ndarray:
        """Fused scores, one row per query."""
        bm25 = np.stack([corpus.bm25_scores(q) for q in queries])
        bm25 = bm25 / np.maximum(bm25.max(axis=1, keepdims=True), 1e-9)
        if self.embedder is None or corpus.vectors is None:
            return bm25
        qvec = self.embedder.encode(queries)
        dense = qvec @ corpus.vectors.T
        dense = np.clip(dense, 0.0, None) / np.maximum(dense.max(axis=1, keepdims=True), 1e-9)
        return self.alpha * dense + (1.0 - self.alpha) * bm25

    def retrieve(self, task: str, cards: Sequence[SkillCard], *, k: int = 8,
                 embodiments: Iterable[str] | None = None) -> list[Retrieved]:
        """The ``k`` best cards for ``task`` among ``cards`` usable by one of ``embodiments``.

        ``embodiments=None`` means no filter; a card that declares no embodiments fits every robot.
        """
        if k <= 0 or not cards:
            return []
        corpus = self._corpus(cards)
        allowed = np.ones(len(corpus.cards), dtype=bool)
        if embodiments is not None:
            wanted = set(embodiments)
            allowed = np.array([not e or bool(e & wanted) for e in corpus.embodiments], dtype=bool)
        if not allowed.any():
            return []
        queries = [task] + (split_clauses(task) if self.split else [])
        queries = list(dict.fromkeys(q for q in queries if q.strip())) or [task]
        scores = self._scores(corpus, queries)
        scores[:, ~allowed] = -1.0
        best = scores.max(axis=0)
        orders = [np.argsort(-row, kind="stable") for row in scores]
        # Interleave: rank 0 of every clause, then rank 1, ...; clauses first, the whole task last.
        sequence = orders[1:] + orders[:1] if len(orders) > 1 else orders
        limit = min(k, int(allowed.sum()))
        picked: list[int] = []

        def add(idx: int) -> None:
            if idx in picked or not allowed[idx] or len(picked) >= limit:
                return
            picked.append(idx)
            for condition in corpus.cards[idx].preconditions:  # pull in a skill that makes it true
                if any(condition in corpus.cards[j].effects for j in picked):
                    continue
                providers = [j for j in corpus.providers.get(condition, ()) if allowed[j]]
                mine = corpus.embodiments[idx]  # prefer providers the same robots can run, then by score
                providers.sort(key=lambda j: (-len(corpus.embodiments[j] & mine), -best[j]))
                for j in providers[: self.providers_per_condition]:
                    add(j)

        for rank in range(len(corpus.cards)):
            for order in sequence:
                add(int(order[rank]))
            if len(picked) >= limit:
                break
        return [Retrieved(corpus.cards[i], float(best[i])) for i in picked]
