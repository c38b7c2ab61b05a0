"""GPU latency benchmark of π0 at real size (random bf16 weights): eager vs CUDA-graphed vs W8A16.

Imports only torch and transformers (rich is used for the table when present), so it runs on a bare GPU
machine: ``python -m roboos.brain.policies.bench --out results.json``. ``roboos bench policy`` wraps it.
Each variant samples full chunks (prefix + ``num_steps`` Euler steps) on fixed random inputs and reports
per-chunk latency percentiles measured with a device synchronisation around every call.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from roboos.brain.policies.pi0.config import Pi0Config, preset
from roboos.brain.policies.pi0.model import ATTENTION_IMPLS, Pi0Model, count_parameters
from roboos.brain.policies.pi0.runner import EagerSampler, GraphSampler, uncompile_model


def _inputs(
    cfg: Pi0Config, batch: int, device: torch.device, dtype: torch.dtype, seed: int
) -> dict[str, Any]:
    g = torch.Generator(device=device).manual_seed(seed)
    s = cfg.vision.image_size
    return {
        "images": (torch.rand(batch, len(cfg.cameras), 3, s, s, device=device, generator=g) * 2 - 1).to(
            dtype
        ),
        "image_masks": torch.ones(batch, len(cfg.cameras), dtype=torch.bool, device=device),
        "tokens": torch.randint(
            0, cfg.vlm.vocab_size, (batch, cfg.max_token_len), device=device, generator=g
        ),
        "token_masks": torch.ones(batch, cfg.max_token_len, dtype=torch.bool, device=device),
        "state": torch.randn(batch, cfg.state_dim, device=device, generator=g),
        "noise": torch.randn(batch, cfg.chunk_size, cfg.action_dim, device=device, generator=g),
    }


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _time(fn: Callable[[], torch.Tensor], warmup: int, iters: int) -> list[float]:
    for _ in range(warmup):
        fn()
    _sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(name: str, cams: int, times: list[float], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    row = {
        "variant": name,
        "cameras": cams,
        "iters": len(times),
        "p50_ms": round(_pct(times, 0.5), 3),
        "p99_ms": round(_pct(times, 0.99), 3),
        "mean_ms": round(statistics.fmean(times), 3),
        "min_ms": round(min(times), 3),
    }
    row.update(extra or {})
    return row


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-12))


def _floor(cfg: Pi0Config, cams: int) -> dict[str, float]:
    """Lower bound on work per chunk: matmul FLOPs and weight bytes read (prefix once, expert per step)."""
    v, g, e = cfg.vision, cfg.vlm, cfg.expert

    def layer_params(w: int, mlp: int, heads: int, kv: int, hd: int) -> int:
        return w * heads * hd * 2 + w * kv * hd * 2 + 3 * w * mlp

    vis = v.num_layers * (4 * v.hidden_size**2 + 2 * v.hidden_size * v.intermediate_size)
    vlm = g.depth * layer_params(g.width, g.mlp_dim, g.num_heads, g.num_kv_heads, g.head_dim)
    exp = e.depth * layer_params(e.width, e.mlp_dim, e.num_heads, e.num_kv_heads, e.head_dim)
    img_tokens = cams * v.tokens_per_image
    prefix = img_tokens + cfg.max_token_len
    flops = 2 * (vis * img_tokens + vlm * prefix + exp * cfg.suffix_len * cfg.num_steps)
    weight_bytes = 2 * (vis + vlm + exp * cfg.num_steps)
    return {"gflop": round(flops / 1e9, 1), "weight_gbytes_read": round(weight_bytes / 1e9, 2)}


_EXPERT_ONLY_SKIP = ("lm_head", "re:.*vision.*", "re:vlm\\..*", "projector")


def _w8a16(model: Pi0Model, expert_only: bool) -> str | None:
    """Quantise linear layers in place with the project's W8A16 kernels (issue 6), if available.

    ``expert_only`` keeps the vision tower and the VLM (compute-bound prefix, M ≈ 300 tokens) in bf16 and
    quantises the action expert and heads (memory-bound, M = 50, run ``num_steps`` times per chunk).
    """
    try:
        from roboos.brain.quant.quantize import DEFAULT_SKIP, quantize
    except Exception as exc:  # not landed / triton missing
        return f"W8A16 unavailable: {type(exc).__name__}: {exc}"
    quantize(model, skip=_EXPERT_ONLY_SKIP if expert_only else DEFAULT_SKIP)
    return None


def _kernel_profile(sampler: GraphSampler, x: dict[str, Any], reps: int = 3) -> dict[str, Any]:
    """Per-kernel device time of graph replays (torch.profiler / CUPTI), grouped and top-15."""
    from torch.profiler import ProfilerActivity, profile

    activity = ProfilerActivity.CUDA if torch.cuda.is_available() else ProfilerActivity.CPU
    with profile(activities=[activity]) as prof:
        for _ in range(reps):
            sampler(**x)
        _sync()
    kernels = []
    for e in prof.key_averages():
        t = (
            getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0) or 0
            if torch.cuda.is_available()
            else e.self_cpu_time_total
        )
        if t > 0:
            kernels.append((e.key, t / reps / 1e3, e.count / reps))
    kernels.sort(key=lambda k: -k[1])
    groups: dict[str, float] = {}
    for name, ms, _n in kernels:
        low = name.lower()
        group = (
            "gemm"
            if any(s in low for s in ("gemm", "nvjet", "cutlass", "sm90_xmma", "matmul", "w8a16"))
            else "attention"
            if any(s in low for s in ("fmha", "attention", "flash"))
            else "triton_fused"
            if "triton" in low
            else "other"
        )
        groups[group] = groups.get(group, 0.0) + ms
    return {
        "kernel_ms_per_chunk": round(sum(k[1] for k in kernels), 3),
        "kernels_per_chunk": round(sum(k[2] for k in kernels)),
        "by_group_ms": {k: round(v, 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "top": [{"kernel": n[:120], "ms": round(ms, 3), "calls": round(c)} for n, ms, c in kernels[:15]],
    }


def _efficient_variant(model: Pi0Model, cameras: tuple[int, ...], graphed: Callable[..., None]) -> None:
    """``graph_compile_bf16_efficient``: compiled and captured with cuDNN SDPA off (memory-efficient
    kernel)."""
    cudnn_was = torch.backends.cuda.cudnn_sdp_enabled()
    uncompile_model(model)
    torch._dynamo.reset()  # the SDPA backend is chosen at trace time: trace again with cuDNN off
    torch.backends.cuda.enable_cudnn_sdp(False)
    try:
        for i, cams in enumerate(cameras):
            graphed("graph_compile_bf16_efficient", cams, True, profile_it=i == 0)
    finally:
        torch.backends.cuda.enable_cudnn_sdp(cudnn_was)
        uncompile_model(model)


def run_policy_bench(
    cameras: tuple[int, ...] = (1, 3),
    iters: int = 50,
    eager_iters: int = 10,
    batch: int = 1,
    compile: bool = False,
    w8a16: bool = True,
    seed: int = 0,
    command: str = "",
    log: Callable[[str], None] = print,
    budget_s: float = 360.0,
    preset_name: str = "pi0",
    device: str = "cuda",
    attention_impls: tuple[str, ...] = ("fused",),
    compiled_sdpa: bool = False,
    efficient_attention: bool = False,
    w8a16_attention: str = "fused",
    w8a16_all: bool = True,
    graph_uncompiled: bool = False,
    autotune: bool = False,
    partial: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the variants and return the result document (also see :func:`main`).

    By default: the eager baseline, the GPU default (``graph_compile_bf16_fused``: CUDA graph, torch.compile
    and the fused Triton expert) and W8A16 (expert only, then all but vision, on the same fused expert), for
    every camera count. Optional variants are skipped once ``budget_s`` seconds have passed (noted in the
    document). ``attention_impls`` gives one ``graph_compile_bf16_<impl>`` per implementation of
    ``layers.attend`` (fused, math, triton, sdpa); the W8A16 variants run with ``w8a16_attention`` (suffix
    ``_<impl>`` unless sdpa), and ``w8a16_all=False`` keeps only the expert-only one. Earlier rounds'
    variants, off by default: ``compiled_sdpa`` (``graph_compile_bf16``, cuDNN SDPA), ``efficient_attention``
    (``graph_compile_bf16_efficient``: SDPA with cuDNN switched off, so PyTorch takes the memory-efficient
    kernel), ``graph_uncompiled`` (``graph_bf16``, without torch.compile) and ``autotune`` (max-autotune).
    ``partial`` receives the document after every variant (so a run stopped by a timeout still leaves its
    results).
    ``device="cpu"`` (with ``preset_name="tiny"``) runs the same orchestration with eager samplers — a
    smoke test of the benchmark itself, not a measurement.
    """
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the policy benchmark needs a CUDA GPU")
    dev = torch.device(device)
    torch.manual_seed(seed)
    base = preset(preset_name)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    t_start = time.perf_counter()
    with torch.device(dev):
        model = Pi0Model(base).to(dtype).eval()
    log(f"built π0 ({count_parameters(model) / 1e9:.2f}B params) in {time.perf_counter() - t_start:.1f}s")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    refs: dict[int, torch.Tensor] = {}
    profiles: dict[str, Any] = {}

    def checkpoint() -> None:
        if partial is not None:
            partial(_document(model, base, batch, rows, notes, profiles, command, t_start))

    def time_left() -> float:
        return budget_s - (time.perf_counter() - t_start)

    def graphed(
        name: str, cams: int, compiled: bool | str, profile_it: bool = False, model: Pi0Model = model
    ) -> None:
        if time_left() < 0:
            notes.append(f"{name} ({cams} cam) skipped: time budget of {budget_s:.0f}s used")
            return
        try:
            model.config = base.with_cameras(cams)
            x = _inputs(model.config, batch, dev, dtype, seed)
            t1 = time.perf_counter()
            sampler = (
                GraphSampler(model, buckets=(batch,), compile=compiled)
                if dev.type == "cuda"
                else EagerSampler(model)
            )
            if isinstance(sampler, GraphSampler):
                sampler.prepare(batch)
            setup = time.perf_counter() - t1
            err = _rel_err(sampler(**x), refs[cams])
            rows.append(
                _summary(
                    name,
                    cams,
                    _time(lambda: sampler(**x), 5, iters),
                    {"rel_err_vs_eager": round(err, 5), "setup_s": round(setup, 1)},
                )
            )
            log(
                f"[{cams} cam] {name} p50 {rows[-1]['p50_ms']} ms "
                f"(rel err vs eager {err:.4f}, setup {setup:.0f}s)"
            )
            if profile_it:
                try:
                    profiles[f"{name}/{cams}cam"] = _kernel_profile(sampler, x)
                except Exception as exc:
                    notes.append(f"profiling {name} failed: {type(exc).__name__}: {str(exc)[:200]}")
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            checkpoint()
        except Exception as exc:
            notes.append(f"{name} ({cams} cam) failed: {type(exc).__name__}: {str(exc)[:300]}")
            log(notes[-1])
            if compiled:  # retry the same weights without torch.compile
                uncompile_model(model)
                graphed(name.replace("compile_", "") + "_nocompile", cams, False, profile_it, model)

    for cams in cameras:  # the baseline: plain PyTorch, unfused, one launch per op
        model.config = base.with_cameras(cams)
        x_eager = _inputs(model.config, batch, dev, dtype, seed)
        rows.append(
            _summary("eager_bf16", cams, _time(lambda x=x_eager: model.sample_actions(**x), 2, eager_iters))
        )
        refs[cams] = model.sample_actions(**x_eager)
        log(f"[{cams} cam] eager bf16 p50 {rows[-1]['p50_ms']} ms")
        checkpoint()
    model.fuse()
    if graph_uncompiled or not compile:
        graphed("graph_bf16", cameras[0], False)
    if compile:
        if compiled_sdpa:
            for i, cams in enumerate(cameras):
                graphed("graph_compile_bf16", cams, True, profile_it=i == 0)
        for impl in attention_impls:  # math: matmul + softmax; triton: one fused kernel (see layers.attend)
            uncompile_model(model)
            model.attention = impl
            for i, cams in enumerate(cameras):
                graphed(f"graph_compile_bf16_{impl}", cams, True, profile_it=i == 0)
            model.attention = "sdpa"
        if efficient_attention and dev.type == "cuda":
            _efficient_variant(model, cameras, graphed)
    if w8a16:  # on a copy, so the bf16 model stays available
        uncompile_model(model)
        tag = "graph_compile" if compile else "graph"
        qmodel = copy.deepcopy(model)
        if dev.type == "cuda" or w8a16_attention not in ("triton", "fused"):  # Triton kernels: GPU only
            qmodel.attention = w8a16_attention
        suffix = "" if qmodel.attention == "sdpa" else f"_{qmodel.attention}"
        plans = ((True, f"{tag}_w8a16_expert{suffix}"), (False, f"{tag}_w8a16{suffix}"))
        for expert_only, name in plans if w8a16_all else plans[:1]:
            if time_left() < 60:
                notes.append(f"{name} skipped: time budget of {budget_s:.0f}s used")
                continue
            problem = _w8a16(qmodel, expert_only)
            if problem:
                notes.append(problem)
                break
            graphed(name, cameras[0], compile, profile_it=True, model=qmodel)
            if len(cameras) > 1 and time_left() > 90:
                graphed(name, cameras[-1], compile, model=qmodel)
        uncompile_model(qmodel)
        del qmodel
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    if compile and autotune:
        if time_left() > 100:  # max-autotune of the denoising step's GEMMs (slow to compile)
            uncompile_model(model)
            model.attention = attention_impls[0] if attention_impls and dev.type == "cuda" else "sdpa"
            suffix = "" if model.attention == "sdpa" else f"_{model.attention}"
            graphed(f"graph_autotune_bf16{suffix}", cameras[0], "autotune", profile_it=True)
            uncompile_model(model)
            model.attention = "sdpa"
        else:
            notes.append("graph_autotune_bf16 skipped: time budget")
    return _document(model, base, batch, rows, notes, profiles, command, t_start)


def _document(model: Pi0Model, base: Pi0Config, batch: int, rows: list[dict[str, Any]], notes: list[str],
              profiles: dict[str, Any], command: str, t_start: float) -> dict[str, Any]:
    """The result document of the rows measured so far (speed-ups against the same run's eager rows)."""
    for row in rows:
        eager_row = next((r for r in rows if r["variant"] == "eager_bf16" and r["cameras"] == row["cameras"]),
                         None)
        if eager_row is not None:
            row["speedup_vs_eager"] = round(eager_row["p50_ms"] / row["p50_ms"], 2)
        row.update(_floor(base, row["cameras"]))
    gpu = torch.cuda.get_device_properties(0) if next(model.parameters()).is_cuda else None
    import transformers

    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {
        "benchmark": "policy",
        "policy": "pi0",
        "params": count_parameters(model),
        "config": {
            "chunk_size": base.chunk_size,
            "action_dim": base.action_dim,
            "num_steps": base.num_steps,
            "image_size": base.vision.image_size,
            "max_token_len": base.max_token_len,
            "batch": batch,
        },
        "machine": {
            "gpu": gpu.name if gpu else "cpu",
            "gpu_memory_gb": round(gpu.total_memory / 2**30, 1) if gpu else None,
            "host": platform.node(),
            "python": platform.python_version(),
        },
        "versions": {
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "transformers": transformers.__version__,
            "triton": triton_version,
        },
        "command": command or " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "target": {"p50_ms_one_camera": 10.0, "speedup_vs_eager": 5.0},
        "results": rows,
        "notes": notes,
        "profiles": profiles,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }


def print_table(doc: dict[str, Any]) -> None:
    """A rich table of the results (plain text when rich is missing)."""
    cols = ["variant", "cameras", "p50_ms", "p99_ms", "mean_ms", "speedup_vs_eager"]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(" | ".join(cols))
        for r in doc["results"]:
            print(" | ".join(str(r.get(c, "")) for c in cols))
        return
    table = Table(title=f"π0 chunk latency on {doc['machine']['gpu']} ({doc['params'] / 1e9:.2f}B params)")
    for c in cols:
        table.add_column(c)
    for r in doc["results"]:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    Console().print(table)
    for note in doc.get("notes", []):
        Console().print(f"[yellow]note:[/] {note}")


def render_chart(doc: dict[str, Any], path: Path) -> Path | None:
    """A bar chart of p50 latency per variant and camera count, with the 10 ms target (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = doc["results"]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    cams = sorted({r["cameras"] for r in rows})
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(cams)
    for i, c in enumerate(cams):
        vals = [
            next((r["p50_ms"] for r in rows if r["variant"] == v and r["cameras"] == c), 0.0)
            for v in variants
        ]
        bars = ax.bar([j + i * width for j in range(len(variants))], vals, width, label=f"{c} camera(s)")
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.axhline(
        doc["target"]["p50_ms_one_camera"], color="red", linestyle="--", linewidth=1, label="10 ms target"
    )
    ax.set_xticks(
        [j + width * (len(cams) - 1) / 2 for j in range(len(variants))],
        variants,
        rotation=20,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel("p50 ms per 50×32 chunk")
    ax.set_yscale("log")
    ax.set_title(f"π0 ({doc['params'] / 1e9:.2f}B), 10 Euler steps, on {doc['machine']['gpu']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cameras", default="1,3")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--eager-iters", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--no-w8a16", action="store_true")
    ap.add_argument(
        "--budget", type=float, default=360.0, help="seconds after which optional variants are skipped"
    )
    ap.add_argument("--attention-impls", default="fused",
                    help=f"compiled bf16 variants, one per attention impl (of {', '.join(ATTENTION_IMPLS)})")
    ap.add_argument("--w8a16-attention", default="fused", choices=ATTENTION_IMPLS,
                    help="attention of W8A16 variants")
    ap.add_argument("--w8a16-expert-only", action="store_true",
                    help="skip graph_compile_w8a16 (all but vision)")
    ap.add_argument("--compiled-sdpa", action="store_true", help="add graph_compile_bf16 (cuDNN SDPA)")
    ap.add_argument("--efficient-attention", action="store_true", help="add graph_compile_bf16_efficient")
    ap.add_argument("--graph", action="store_true", help="add graph_bf16 (CUDA graph without torch.compile)")
    ap.add_argument("--autotune", action="store_true", help="add the max-autotune variant (slow to compile)")
    # earlier rounds' commands in docs/vla.md pass these; they skip what is now off by default
    for old_flag in ("--no-compiled-sdpa", "--no-graph", "--no-autotune"):
        ap.add_argument(old_flag, action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    impls = tuple(i.strip() for i in args.attention_impls.split(",") if i.strip())
    if any(i not in ATTENTION_IMPLS for i in impls):
        ap.error(f"--attention-impls takes {ATTENTION_IMPLS}, got {args.attention_impls!r}")
    doc = run_policy_bench(
        tuple(int(c) for c in args.cameras.split(",")),
        args.iters,
        args.eager_iters,
        args.batch,
        args.compile,
        not args.no_w8a16,
        budget_s=args.budget,
        compiled_sdpa=args.compiled_sdpa,
        efficient_attention=args.efficient_attention,
        attention_impls=impls,
        w8a16_attention=args.w8a16_attention,
        w8a16_all=not args.w8a16_expert_only,
        graph_uncompiled=args.graph,
        autotune=args.autotune,
        partial=lambda doc: args.out.write_text(json.dumps(doc, indent=2)),
        command="python -m roboos.brain.policies.bench " + " ".join(argv or sys.argv[1:]),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    render_chart(doc, args.out.with_suffix(".png"))
    print_table(doc)


if __name__ == "__main__":
    main()
