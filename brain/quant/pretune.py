"""PreTune: offline search of W8A16 kernel configs over M buckets for each weight shape of a model.

For every (N, K) and M bucket, a small candidate set is compiled, checked against the reference (a
candidate that is wrong or fails to compile is dropped) and timed as a
(CUDA graph of calls over rotating weight copies larger than L2, so launch overhead
and cache hits stay out of the choice); the fastest is stored. With FlagGems importable its int8-weight
kernel is one more candidate (kind ``flag_gems``), so the table picks the faster implementation per shape.
Only torch and triton are imported, so this runs on a bare GPU machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from roboos.brain.quant.configs import (
    M_BUCKETS,
    SM_COUNT_DEFAULT,
    ConfigTable,
    KernelConfig,
    heuristic_config,
    shape_key,
)

DTYPE_NAMES = {torch.bfloat16: "bfloat16", torch.float16: "float16"}


def candidates(m: int, n: int, k: int, group_size: int = 0) -> list[KernelConfig]:
    """The configs tried for one bucket (the heuristic's choice is always among them)."""
    out: list[KernelConfig] = [heuristic_config(m, n, k, group_size)]
    if m == 1:
        for bn in (1, 2, 4, 8):
            for bk in (1024, 2048, 4096):
                for warps, stages in ((4, 1), (4, 3), (8, 2)):
                    out.append(KernelConfig("gemv", 1, bn, bk, 1, 1, warps, stages))
        if k > 4096:  # long rows: more bytes in flight per program
            for bn, warps in ((1, 4), (2, 4), (2, 8), (4, 8)):
                out.append(KernelConfig("gemv", 1, bn, 8192, 1, 1, warps, 2))
        out += [KernelConfig("gemv", 1, 4, 512, 1, 1, 4, 4), KernelConfig("gemv", 1, 8, 512, 1, 1, 8, 3),
                KernelConfig("gemv", 1, 16, 512, 2, 1, 4, 3), KernelConfig("gemv", 1, 4, 1024, 1, 1, 4, 2)]
    elif m <= 128:
        out += small_m_gemm_candidates(m, n, k)
    else:
        out += [KernelConfig("gemm", 128, 128, 64, 1, 8, 8, 3), KernelConfig("gemm", 128, 256, 64, 1, 8, 8, 3),
                KernelConfig("gemm", 64, 128, 64, 1, 8, 4, 4), KernelConfig("gemm", 128, 128, 64, 1, 8, 4, 4),
                KernelConfig("gemm", 64, 256, 64, 1, 8, 8, 3), KernelConfig("gemm", 128, 64, 64, 1, 8, 4, 4)]
    if group_size:
        out = [c for c in out if c.block_k % group_size == 0 or c.kind == "gemm"]
    seen: set[KernelConfig] = set()
    return [c for c in out if not (c in seen or seen.add(c))]


SMEM_BUDGET = 200 * 1024  # bytes of shared memory a GEMM candidate may plan for (H100: 227 KB per block)


def small_m_gemm_candidates(m: int, n: int, k: int, sm_count: int = SM_COUNT_DEFAULT) -> list[KernelConfig]:
    """GEMM configs for 2 <= M <= 128, where reading the int8 weights bounds the time: tiles small enough
    (BLOCK_N 16…128, BLOCK_M up to M) and a split over K large enough that about one or two waves of
    programs cover the SMs, deep enough pipelines (``num_stages``) to keep loads in flight, and no
    candidate whose pipelined tiles would not fit in shared memory."""
    out: list[KernelConfig] = []
    bm_max = max(16, 1 << (max(1, m) - 1).bit_length())
    for bm in (16, 32, 64, 128):
        if bm > bm_max or bm < bm_max // 2:
            continue
        for bn in (16, 32, 64, 128):
            for bk, stage_opts in ((128, (3, 5)), (256, (3, 4)), (512, (3,))):
                if bk > k or (bk == 512 and bn > 32):
                    continue
                tiles = -(-m // bm) * -(-n // bn)
                split = 1
                while tiles * split < sm_count and k // (bk * split * 2) >= 2:
                    split *= 2
                splits = sorted({1, split, split * 2 if k // (bk * split * 2) >= 2 else split})
                warps = (4, 8) if bm * bn >= 64 * 128 else (4,)
                for sk in splits:
                    for stages in stage_opts:
                        if stages * (bm * bk * 2 + bk * bn) > SMEM_BUDGET:
                            continue
                        for w in warps:
                            out.append(KernelConfig("gemm", bm, bn, bk, sk, 8, w, stages))
    return out


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``||out - ref|| / ||ref||`` in float64; NaN/inf anywhere gives ``inf``."""
    if not torch.isfinite(out).all():
        return float("inf")
    ref = ref.double()
    return float((out.double() - ref).norm() / ref.norm().clamp_min(1e-30))


@dataclass
class TuneResult:
    config: KernelConfig
    time_us: float
    gbps: float
    tried: int
    rejected: list[str]


def weight_bytes(m: int, n: int, k: int, group_size: int) -> int:
    """Fewest bytes one W8A16 call moves: int8 weights, scales, activations in, outputs out (16-bit)."""
    groups = k // group_size if group_size else 1
    return n * k + n * groups * 2 + m * k * 2 + m * n * 2


def graph_time_us(make_call: Callable[[int], Callable[[], object]], copies: int, reps: int = 20,
                  trials: int = 5) -> float:
    """Per-call time (median of ``trials``) of a CUDA graph that runs ``make_call(i)()`` for each weight copy
    ``i``: no launch gaps, weights streamed from HBM when the copies exceed L2 (what a decode step sees)."""
    calls = [make_call(i) for i in range(copies)]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for c in calls:
            c()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for c in calls:
            c()
    graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(trials):
        start.record()
        for _ in range(reps):
            graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / (reps * copies))
    del graph
    return sorted(times)[len(times) // 2]


def rotating_copies(qweight: torch.Tensor, min_bytes: int = 200 << 20) -> list[torch.Tensor]:
    """``qweight`` plus clones so that together they exceed the L2 cache several times."""
    count = max(2, -(-min_bytes // (qweight.numel() * qweight.element_size())))
    return [qweight] + [qweight.clone() for _ in range(count - 1)]


def tune_bucket(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor, group_size: int,
                configs: Iterable[KernelConfig], flag_gems: bool = False, tol: float = 1e-2,
                weights: list[torch.Tensor] | None = None) -> TuneResult:
    """Check each config on this input, time the correct ones with :func:`graph_time_us` over rotating
    weight copies, and return the fastest."""
    from roboos.brain.quant import kernels
    from roboos.brain.quant.reference import dequantize_weight

    ref = x.float() @ dequantize_weight(qweight, scale, torch.float32).T
    m, n, k = x.shape[0], qweight.shape[0], qweight.shape[1]
    best: tuple[float, KernelConfig] | None = None
    rejected: list[str] = []
    weights = weights or [qweight]
    runs: list[tuple[KernelConfig, Callable[[int], Callable[[], torch.Tensor]]]] = [
        (c, (lambda i, c=c: (lambda: kernels.w8a16_triton(x, weights[i], scale, None, group_size, c))))
        for c in configs]
    if flag_gems and group_size == 0:
        from roboos.brain.quant import flaggems
        if flaggems.available():
            runs.append((KernelConfig("flag_gems", 16, 64, 128),
                         lambda i: (lambda: flaggems.w8a16_linear(x, weights[i], scale))))
    for cfg, make in runs:
        try:
            err = relative_error(make(0)(), ref)
            if not err < tol:
                rejected.append(f"{cfg}: rel err {err:.3g}")
                continue
            t_ms = graph_time_us(make, len(weights), reps=5, trials=3) * 1e-3
        except Exception as exc:  # noqa: BLE001  (compile failures: shared memory, registers)
            rejected.append(f"{cfg}: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}")
            continue
        if best is None or t_ms < best[0]:
            best = (t_ms, cfg)
    if best is None:
        raise RuntimeError(f"no candidate worked for M={m} N={n} K={k}: {rejected[:3]}")
    t_us = best[0] * 1e3
    return TuneResult(best[1], t_us, weight_bytes(m, n, k, group_size) / (t_us * 1e-6) / 1e9,
                      len(runs), rejected)


def build_table(shapes: Iterable[tuple[int, int]], dtype: torch.dtype = torch.bfloat16, group_size: int = 0,
                buckets: Iterable[int] = M_BUCKETS, flag_gems: bool = True, device: str = "cuda",
                progress: Callable[[str], None] | None = None, table: ConfigTable | None = None) -> ConfigTable:
    """Tune every (N, K) in ``shapes`` over ``buckets``; returns (and extends) a :class:`ConfigTable`."""
    import triton

    name = torch.cuda.get_device_name(device)
    if table is None:
        table = ConfigTable(name, {}, {"triton": triton.__version__, "torch": torch.__version__,
                                       "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                       "timings": {}})
    timings = table.meta.setdefault("timings", {})
    gen = torch.Generator(device=device).manual_seed(0)
    for n, k in shapes:
        w = torch.randn(n, k, device=device, dtype=torch.float32, generator=gen)
        from roboos.brain.quant.reference import quantize_weight
        qweight, scale = quantize_weight(w, group_size, dtype)
        del w
        weights = rotating_copies(qweight)
        key = shape_key(n, k, group_size, DTYPE_NAMES[dtype])
        for b in buckets:
            x = torch.randn(b, k, device=device, dtype=torch.float32, generator=gen).to(dtype)
            res = tune_bucket(x, qweight, scale, group_size, candidates(b, n, k, group_size), flag_gems,
                              weights=weights)
            table.entries.setdefault(key, {})[b] = res.config
            timings.setdefault(key, {})[str(b)] = {"time_us": round(res.time_us, 2), "gbps": round(res.gbps, 1)}
            if progress is not None:
                progress(f"{key} M={b}: {res.config.kind} bn={res.config.block_n} bk={res.config.block_k} "
                         f"split={res.config.split_k} {res.time_us:.1f} us {res.gbps:.0f} GB/s "
                         f"({res.tried} tried, {len(res.rejected)} rejected)")
        del qweight, scale, weights
        torch.cuda.empty_cache()
    return table


def model_linear_shapes(config) -> list[tuple[int, int]]:
    """(N, K) of the fused decode GEMMs of a Qwen2/Llama-style text config: qkv, o, gate_up, down."""
    text = getattr(config, "text_config", None) or config
    h = int(text.hidden_size)
    heads = int(text.num_attention_heads)
    kv = int(getattr(text, "num_key_value_heads", heads))
    head_dim = int(getattr(text, "head_dim", None) or h // heads)
    inter = int(text.intermediate_size)
    return [((heads + 2 * kv) * head_dim, h), (h, heads * head_dim), (2 * inter, h), (h, inter)]
