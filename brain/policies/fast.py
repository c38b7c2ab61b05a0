"""FAST action tokens: BPE ids ↔ quantised DCT coefficients ↔ action chunks.

Encoding (as published by Physical Intelligence): an action chunk (T, D) is transformed with an
orthonormal DCT-II along time, scaled by ``scale`` and rounded; the integer coefficients, flattened
time-frequency-major (all dimensions of frequency 0, then frequency 1, ...), are shifted by
``-min_token`` and written as one unicode character each; a byte-pair-encoding tokenizer compresses that
string into token ids. Decoding reverses each step: ids → string → ``ord(c) + min_token`` → reshape
(T, D) → divide by ``scale`` → inverse DCT.

The BPE tokenizer is a ``tokenizers`` JSON file (the ``tokenizer.json`` of a FAST processor folder);
``processor_config.json`` next to it gives ``scale``, ``min_token``, ``time_horizon`` and ``action_dim``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np


class FastDecodeError(ValueError):
    """Tokens do not decode to a chunk of the expected shape."""

    code = "bad_action_tokens"


@lru_cache(maxsize=32)
def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix C (n, n): ``dct(x) = C @ x`` and ``idct(y) = C.T @ y`` along axis 0."""
    k = np.arange(n)[:, None]
    t = np.arange(n)[None, :]
    c = np.cos(np.pi * (t + 0.5) * k / n) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c


def dct(x: np.ndarray) -> np.ndarray:
    return dct_matrix(x.shape[0]) @ x


def idct(y: np.ndarray) -> np.ndarray:
    return dct_matrix(y.shape[0]).T @ y


class FastTokenizer:
    """FAST decode/encode around a ``tokenizers.Tokenizer`` holding the BPE vocabulary."""

    def __init__(
        self,
        bpe,
        *,
        scale: float = 10.0,
        min_token: int = 0,
        time_horizon: int | None = None,
        action_dim: int | None = None,
    ):
        self.bpe = bpe
        self.scale, self.min_token = float(scale), int(min_token)
        self.time_horizon, self.action_dim = time_horizon, action_dim
        self.vocab_size = int(bpe.get_vocab_size())

    @classmethod
    def from_dir(cls, path: str | Path) -> FastTokenizer:
        """Load ``tokenizer.json`` and ``processor_config.json`` from a FAST processor folder."""
        from tokenizers import Tokenizer

        root = Path(path)
        if not (root / "tokenizer.json").is_file():
            raise FileNotFoundError(f"{root}: no FAST tokenizer.json")
        cfg: dict = {}
        if (root / "processor_config.json").is_file():
            cfg = json.loads((root / "processor_config.json").read_text())
        return cls(
            Tokenizer.from_file(str(root / "tokenizer.json")),
            scale=cfg.get("scale", 10.0),
            min_token=cfg.get("min_token", 0),
            time_horizon=cfg.get("time_horizon"),
            action_dim=cfg.get("action_dim"),
        )

    def save(self, path: str | Path) -> Path:
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self.bpe.save(str(root / "tokenizer.json"))
        (root / "processor_config.json").write_text(
            json.dumps(
                {
                    "scale": self.scale,
                    "min_token": self.min_token,
                    "time_horizon": self.time_horizon,
                    "action_dim": self.action_dim,
                    "vocab_size": self.vocab_size,
                }
            )
        )
        return root

    # ------------------------------------------------------------------ decode
    def coefficients(self, ids: Sequence[int]) -> np.ndarray:
        """Token ids → the flat integer DCT coefficients they spell."""
        bad = [i for i in ids if not 0 <= int(i) < self.vocab_size]
        if bad:
            raise FastDecodeError(
                f"action token ids {bad[:5]} are outside the FAST vocabulary (0..{self.vocab_size - 1})"
            )
        ids = [int(i) for i in ids]
        if self.bpe.decoder is not None:
            text = self.bpe.decode(ids, skip_special_tokens=False)
        else:  # a bare BPE model: the pieces concatenate
            text = "".join(self.bpe.id_to_token(i) for i in ids)
        return np.array([ord(c) for c in text], dtype=np.int64) + self.min_token

    def decode(
        self,
        ids: Sequence[int],
        time_horizon: int | None = None,
        action_dim: int | None = None,
        strict: bool = False,
    ) -> np.ndarray:
        """Token ids → action chunk (time_horizon, action_dim) float64.

        A short sequence is completed with zero coefficients (the missing highest frequencies); a
        sequence longer than the chunk, or not a whole number of rows, raises with ``strict`` and is
        truncated otherwise.
        """
        t = time_horizon or self.time_horizon
        d = action_dim or self.action_dim
        if not t or not d:
            raise FastDecodeError("time_horizon and action_dim are needed to decode FAST tokens")
        coeff = self.coefficients(ids)
        n = t * d
        if strict and coeff.size != n:
            raise FastDecodeError(f"{coeff.size} DCT coefficients decoded, a {t}x{d} chunk needs {n}")
        full = np.zeros(n, dtype=np.float64)
        full[: min(n, coeff.size)] = coeff[:n]
        return idct(full.reshape(t, d) / self.scale)

    # ------------------------------------------------------------------ encode
    def _chars(self, chunk: np.ndarray) -> str:
        coeff = np.around(dct(np.asarray(chunk, dtype=np.float64)) * self.scale).astype(np.int64).reshape(-1)
        return "".join(chr(int(c)) for c in np.maximum(coeff - self.min_token, 0))

    def encode(self, chunk: np.ndarray) -> list[int]:
        """Action chunk (T, D) → token ids."""
        if chunk.ndim != 2:
            raise ValueError(f"an action chunk must be (T, D), got shape {chunk.shape}")
        return list(self.bpe.encode(self._chars(chunk)).ids)

    @classmethod
    def train(
        cls, chunks: Iterable[np.ndarray], vocab_size: int = 1024, scale: float = 10.0
    ) -> FastTokenizer:
        """Fit a BPE vocabulary on example chunks (offline; builds test fixtures and new tokenizers)."""
        from tokenizers import Tokenizer, models, trainers

        chunks = [np.asarray(c, dtype=np.float64) for c in chunks]
        coeffs = [np.around(dct(c) * scale).astype(np.int64) for c in chunks]
        lo = int(min(c.min() for c in coeffs))
        hi = int(max(c.max() for c in coeffs))
        alphabet = [chr(i) for i in range(hi - lo + 1)]
        bpe = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(
            vocab_size=max(vocab_size, len(alphabet)),
            initial_alphabet=alphabet,
            min_frequency=2,
            show_progress=False,
            max_token_length=10000,
        )
        tok = cls(
            bpe, scale=scale, min_token=lo, time_horizon=chunks[0].shape[0], action_dim=chunks[0].shape[1]
        )
        bpe.train_from_iterator([tok._chars(c) for c in chunks], trainer=trainer)
        tok.vocab_size = int(bpe.get_vocab_size())
        return tok
