"""Skill retrieval: hybrid BM25 + dense embeddings, filtered by embodiment, for planner prompts."""

from roboos.skills.retrieval.embedder import EmbeddingModelUnavailable, load_default_embedder
from roboos.skills.retrieval.retriever import Retrieved, SkillRetriever, split_clauses

__all__ = ["EmbeddingModelUnavailable", "Retrieved", "SkillRetriever", "load_default_embedder", "split_clauses"]
