"""Prompt tokenizers for π0: the checkpoint's own tokenizer, or a byte tokenizer for random-weight models.

π0 was trained with PaliGemma's SentencePiece tokenizer; LeRobot/openpi checkpoints do not always ship
it, so ``--tokenizer PATH`` can point at a local copy (any folder ``transformers.AutoTokenizer`` reads).
:class:`ByteTokenizer` (UTF-8 bytes as ids) exists for randomly initialised models — tests and
benchmarks — where no trained vocabulary exists; it is never picked silently for a trained checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class PromptTokenizer(Protocol):
    def encode_prompt(self, prompt: str, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Token ids (max_len,) int64 and a validity mask (max_len,) bool, right-padded."""


def clean_prompt(prompt: str) -> str:
    """openpi's prompt normalisation: strip, underscores and newlines to spaces; end with a newline."""
    return prompt.strip().replace("_", " ").replace("\n", " ") + "\n"


def _pad(ids: list[int], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    ids = ids[:max_len]
    tokens = np.zeros(max_len, dtype=np.int64)
    mask = np.zeros(max_len, dtype=bool)
    tokens[: len(ids)] = ids
    mask[: len(ids)] = True
    return tokens, mask


class ByteTokenizer:
    """BOS followed by UTF-8 bytes (id = byte + 3), folded into ``vocab_size``."""

    def __init__(self, vocab_size: int, bos_id: int = 2):
        if vocab_size < 4:
            raise ValueError("vocab_size must be at least 4")
        self.vocab_size, self.bos_id = vocab_size, bos_id

    def encode_prompt(self, prompt: str, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        data = clean_prompt(prompt).encode("utf-8")
        ids = [self.bos_id] + [3 + (b % (self.vocab_size - 3)) for b in data]
        return _pad(ids, max_len)


class HFTokenizer:
    """A local transformers tokenizer (PaliGemma's for real π0 checkpoints)."""

    def __init__(self, path: str | Path):
        from transformers import AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)

    def encode_prompt(self, prompt: str, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        ids = self._tok.encode(clean_prompt(prompt), add_special_tokens=True)
        return _pad(list(ids), max_len)


def load_prompt_tokenizer(
    spec: str | None, checkpoint: str | Path | None, vocab_size: int
) -> PromptTokenizer:
    """``spec`` = ``"bytes"``, a tokenizer folder, or ``None`` (use the checkpoint folder's tokenizer)."""
    if spec == "bytes":
        return ByteTokenizer(vocab_size)
    if spec:
        return HFTokenizer(spec)
    if checkpoint is not None:
        root = Path(checkpoint)
        root = root if root.is_dir() else root.parent
        if any(
            (root / name).exists() for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
        ):
            return HFTokenizer(root)
    raise FileNotFoundError(
        "no prompt tokenizer: the checkpoint has none; pass --tokenizer PATH (PaliGemma's "
        "tokenizer) or --tokenizer bytes for a randomly initialised model"
    )
