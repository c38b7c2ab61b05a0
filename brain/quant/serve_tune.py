"""Deployment auto-tuning (``roboos tune brain``): search the serving parameters that matter on this machine
against a synthetic load and write the best as a ``roboos serve brain --config`` YAML.

Searched: weight format (bf16 / W8A16), ``max_batch_size`` (requests decoded together; the graphs captured
are one per batch size), CUDA graphs on/off, ``max_seq_len`` (static KV-cache size). The load: ``requests``
prompts of ``prompt_len`` random tokens arriving together, each generating ``new_tokens`` tokens, served in
batches of ``max_batch_size`` by the fast engine the server uses. Per candidate: throughput (generated
tokens/s), request latency p50/p95 (queueing included), time to first token, KV-cache bytes.

Pruning: CUDA graphs off is dropped for larger batches once it loses at the smallest batch; larger batch sizes
stop once throughput grows by less than ``min_gain``; smaller KV caches are only measured for the best
candidate; candidates that another beats on both throughput and p95 latency are marked dominated. Choice:
among candidates with p95 latency within ``latency_slo_ms`` (if given), those within 3 % of the highest
throughput count as equal, and of those the largest KV cache, then the lowest p95 latency wins.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn


NEAR = 0.03  # throughputs this close count as equal when choosing


@dataclass(frozen=True)
class ServeCandidate:
    quant: str
    max_batch_size: int
    use_cuda_graph: bool
    max_seq_len: int


@dataclass
class ServeMeasurement:
    candidate: ServeCandidate
    tokens_per_s: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    ttft_p50_ms: float = 0.0
    kv_cache_mb: float = 0.0
    dominated: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**asdict(self.candidate), **{k: v for k, v in asdict(self).items() if k != "candidate"}}


@dataclass
class LoadSpec:
    requests: int = 16
    prompt_len: int = 256
    new_tokens: int = 128


def kv_cache_bytes(model: nn.Module, batch: int, seq_len: int) -> int:
    """Bytes of the fast engine's static K and V caches."""
    from roboos.brain.engine.decoder import find_decoder

    parts = find_decoder(model)
    itemsize = parts.embed.weight.element_size()
    return 2 * len(parts.layers) * batch * parts.n_kv_heads * seq_len * parts.head_dim * itemsize


def run_load(model: nn.Module, cand: ServeCandidate, load: LoadSpec, vocab: int, seed: int = 0) -> ServeMeasurement:
    """Serve the synthetic load with one candidate's engine settings."""
    from roboos.brain.engine.generator import FastGenerator

    device = next(model.parameters()).device
    meas = ServeMeasurement(cand, kv_cache_mb=kv_cache_bytes(model, cand.max_batch_size, cand.max_seq_len) / 2**20)
    if load.prompt_len + load.new_tokens > cand.max_seq_len:
        meas.error = "prompt + new tokens exceed max_seq_len"
        return meas
    gen_rng = torch.Generator().manual_seed(seed)
    prompts = torch.randint(0, vocab, (load.requests, load.prompt_len), generator=gen_rng)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    try:
        engine = FastGenerator(model, max_seq_len=cand.max_seq_len, max_batch_size=cand.max_batch_size,
                               use_cuda_graph=cand.use_cuda_graph and device.type == "cuda")
        engine.generate(prompts[: cand.max_batch_size].to(device), max_new_tokens=min(4, load.new_tokens))
        latencies, ttfts = [], []
        sync()
        t0 = time.perf_counter()
        for start in range(0, load.requests, cand.max_batch_size):
            batch = prompts[start:start + cand.max_batch_size].to(device)
            begin = time.perf_counter() - t0
            out = engine.generate(batch, max_new_tokens=load.new_tokens)
            sync()
            done = time.perf_counter() - t0
            latencies += [done] * batch.shape[0]
            ttfts += [begin + out.prefill_s] * batch.shape[0]
        total = time.perf_counter() - t0
    except Exception as exc:  # out of memory, unsupported model: recorded, the search goes on
        meas.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return meas
    finally:
        engine = None
        if device.type == "cuda":
            torch.cuda.empty_cache()
    meas.tokens_per_s = load.requests * load.new_tokens / total
    latencies.sort()
    meas.latency_p50_ms = statistics.median(latencies) * 1e3
    meas.latency_p95_ms = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))] * 1e3
    meas.ttft_p50_ms = statistics.median(ttfts) * 1e3
    return meas


def mark_dominated(results: list[ServeMeasurement]) -> None:
    ok = [r for r in results if r.error is None]
    for r in ok:
        r.dominated = any(o is not r and o.tokens_per_s >= r.tokens_per_s and o.latency_p95_ms <= r.latency_p95_ms
                          and (o.tokens_per_s > r.tokens_per_s or o.latency_p95_ms < r.latency_p95_ms) for o in ok)


def choose(results: list[ServeMeasurement], latency_slo_ms: float | None = None) -> ServeMeasurement:
    ok = [r for r in results if r.error is None]
    if not ok:
        raise RuntimeError("no serving candidate ran: " + "; ".join(str(r.error) for r in results[:3]))
    within = [r for r in ok if latency_slo_ms is None or r.latency_p95_ms <= latency_slo_ms]
    pool = within or ok
    best = max(r.tokens_per_s for r in pool)
    near = [r for r in pool if r.tokens_per_s >= (1 - NEAR) * best]  # within noise: more KV cache, less latency
    return max(near, key=lambda r: (r.candidate.max_seq_len, -r.latency_p95_ms, r.tokens_per_s))


def search(model: nn.Module, load: LoadSpec, quants: list[str], batch_sizes: list[int], seq_lens: list[int],
           graphs: list[bool], min_gain: float = 0.05, latency_slo_ms: float | None = None,
           progress: Callable[[str], None] | None = None) -> tuple[list[ServeMeasurement], ServeMeasurement]:
    """Grid search with pruning. ``quants`` in order; "w8a16" quantizes ``model`` in place when reached."""
    from roboos.brain.engine.decoder import find_decoder
    from roboos.brain.quant.module import W8A16Linear
    from roboos.brain.quant.quantize import quantize

    vocab = find_decoder(model).vocab_size
    results: list[ServeMeasurement] = []
    say = progress or (lambda _s: None)
    for quant in quants:
        already = any(isinstance(m, W8A16Linear) for m in model.modules())
        if quant == "w8a16" and not already:
            quantize(model)
        elif quant == "none" and already:
            say("model already W8A16: skipping bf16 candidates")
            continue
        graph_options = list(graphs)
        for seq_len in sorted(seq_lens)[-1:]:
            best_tps = 0.0
            for bsz in sorted(batch_sizes):
                batch_results = []
                for graph in graph_options:
                    meas = run_load(model, ServeCandidate(quant, bsz, graph, seq_len), load, vocab)
                    results.append(meas)
                    batch_results.append(meas)
                    say(f"{quant} batch={bsz} graph={graph} seq={seq_len}: "
                        + (meas.error or f"{meas.tokens_per_s:.1f} tok/s p95 {meas.latency_p95_ms:.0f} ms"))
                if bsz == sorted(batch_sizes)[0] and len(graph_options) > 1:  # prune graphs=off once it loses
                    on = [r for r in batch_results if r.candidate.use_cuda_graph and r.error is None]
                    off = [r for r in batch_results if not r.candidate.use_cuda_graph and r.error is None]
                    if on and off and on[0].tokens_per_s > off[0].tokens_per_s:
                        graph_options = [True]
                        off[0].notes.append("CUDA graphs off lose at the smallest batch: not tried further")
                tps = max((r.tokens_per_s for r in batch_results if r.error is None), default=0.0)
                if best_tps and tps < best_tps * (1 + min_gain):
                    results[-1].notes.append(f"gain under {min_gain:.0%}: larger batch sizes pruned")
                    break
                best_tps = max(best_tps, tps)
        # KV-cache size: re-measure the best batch size with the smaller caches; keep the largest unless it costs
        best_here = choose([r for r in results if r.candidate.quant == quant] or results, latency_slo_ms)
        for seq_len in sorted(seq_lens)[:-1]:
            c = best_here.candidate
            meas = run_load(model, ServeCandidate(quant, c.max_batch_size, c.use_cuda_graph, seq_len), load, vocab)
            results.append(meas)
            say(f"{quant} batch={c.max_batch_size} graph={c.use_cuda_graph} seq={seq_len}: "
                + (meas.error or f"{meas.tokens_per_s:.1f} tok/s"))
    mark_dominated(results)
    return results, choose(results, latency_slo_ms)


def tuned_settings(best: ServeMeasurement, model_source: str | None, load: LoadSpec) -> dict:
    """The ``ServerSettings`` fields the tuner sets."""
    c = best.candidate
    data = {"quant": c.quant, "max_batch_size": c.max_batch_size, "max_seq_len": c.max_seq_len,
            "use_cuda_graph": c.use_cuda_graph, "use_engine": True, "default_max_tokens": load.new_tokens}
    if model_source:
        data = {"model": model_source, **data}
    return data


def write_yaml(path, settings: dict, results: list[ServeMeasurement], header: dict) -> None:
    """Tuned YAML: a comment block with the measurements, then the settings."""
    from pathlib import Path

    import yaml

    lines = ["# Tuned by `roboos tune brain` — serving parameters for `roboos serve brain --config <this file>`."]
    lines += [f"# {k}: {v}" for k, v in header.items()]
    lines.append("# quant  batch  graph  kv_len   tok/s   p50_ms   p95_ms  dominated  error")
    for r in results:
        c = r.candidate
        lines.append(f"# {c.quant:6s} {c.max_batch_size:5d}  {str(c.use_cuda_graph):5s} {c.max_seq_len:6d} "
                     f"{r.tokens_per_s:7.1f} {r.latency_p50_ms:8.0f} {r.latency_p95_ms:8.0f}  {str(r.dominated):9s}"
                     f"  {r.error or ''}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n" + yaml.safe_dump(settings, sort_keys=False))
