"""Kernel part of ``roboos bench w8a16``: correctness on the GPU, copy bandwidth, and per-shape timings of
our W8A16 kernels against bf16 cuBLAS (``torch.nn.functional.linear``) and FlagGems, same run.

Imports only torch and triton (runs on a bare GPU machine). Two timings per case:

* ``us`` — ``triton.testing.do_bench`` median, L2 flushed before every run (cold weights);
* ``graph_us`` — one CUDA graph replaying the call over rotating weight copies larger than L2, divided
  by the number of calls (what a decode step sees: no launch gaps, weights from HBM).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from roboos.brain.quant.configs import KernelConfig, heuristic_config
from roboos.brain.quant.pretune import graph_time_us, relative_error, weight_bytes

SHAPES_7B = {"qkv": (4608, 3584), "o": (3584, 3584), "gate_up": (37888, 3584), "down": (3584, 18944)}
BENCH_M = (1, 4, 16, 64, 512)


def copy_bandwidth(nbytes: int = 1 << 30) -> float:
    """Device-to-device copy rate in GB/s, counting bytes read plus bytes written."""
    import triton.testing

    src = torch.randn(nbytes // 2, device="cuda", dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    t_ms = triton.testing.do_bench(lambda: dst.copy_(src), warmup=25, rep=200, return_mode="median")
    return 2 * nbytes / (t_ms * 1e-3) / 1e9


def gpu_checks(log: Callable[[str], None]) -> list[dict]:
    """Ragged shapes, both kernels, split-K, group 128, bias, fp16, strided x; outputs poisoned with NaN."""
    from roboos.brain.quant import kernels, ops
    from roboos.brain.quant.reference import quantize_weight, w8a16_matmul_ref

    cases = [
        (1, 4608, 3584, 0, torch.bfloat16, KernelConfig("gemv", 1, 8, 512, 1, 1, 4, 3), False, False),
        (1, 3584, 18944, 0, torch.bfloat16, KernelConfig("gemv", 1, 16, 512, 4, 1, 4, 3), True, False),
        (1, 1000, 999, 0, torch.float16, KernelConfig("gemv", 1, 8, 1024, 1, 1, 8, 3), True, True),
        (3, 777, 1280, 128, torch.bfloat16, KernelConfig("gemv", 1, 4, 512, 2, 1, 4, 2), False, False),
        (4, 4608, 3584, 0, torch.bfloat16, KernelConfig("gemm", 16, 64, 256, 2, 8, 4, 3), False, True),
        (13, 1001, 1030, 0, torch.float16, KernelConfig("gemm", 16, 32, 128, 1, 8, 4, 3), True, False),
        (16, 3584, 3584, 128, torch.bfloat16, KernelConfig("gemm", 16, 64, 128, 2, 8, 4, 3), True, False),
        (77, 2000, 3584, 0, torch.bfloat16, KernelConfig("gemm", 64, 128, 64, 1, 8, 4, 3), False, True),
        (512, 3584, 18944, 0, torch.bfloat16, KernelConfig("gemm", 128, 128, 64, 1, 8, 8, 3), False, False),
        (300, 1111, 2048, 128, torch.float16, KernelConfig("gemm", 128, 64, 128, 1, 8, 4, 3), True, False),
    ]
    results = []
    for m, n, k, g, dtype, cfg, with_bias, strided in cases:
        q, s = quantize_weight(torch.randn(n, k, device="cuda"), g, dtype)
        bias = torch.randn(n, device="cuda", dtype=dtype) if with_bias else None
        base = torch.randn(m, 2 * k if strided else k, device="cuda", dtype=dtype)
        x = base[:, ::2] if strided else base  # strided x: the kernels take any stride along K
        out = torch.full((m, n), float("nan"), device="cuda", dtype=dtype)
        kernels.w8a16_triton(x, q, s, bias, g, cfg, out=out)
        torch.cuda.synchronize()
        ref = w8a16_matmul_ref(x.double(), q, s, bias)  # float64, not rounded to 16 bits
        err = relative_error(out, ref)
        auto = ops.w8a16_matmul(x, q, s, bias, g)  # table/heuristic path, strided input handled
        err_auto = relative_error(auto, ref)
        ok = err < 1e-2 and err_auto < 1e-2
        results.append({"m": m, "n": n, "k": k, "group_size": g, "dtype": str(dtype).split(".")[-1],
                        "kind": cfg.kind, "split_k": cfg.split_k, "bias": with_bias, "strided_x": strided,
                        "rel_err": err, "rel_err_dispatch": err_auto, "ok": ok})
        log(f"check M={m} N={n} K={k} g={g} {cfg.kind} split={cfg.split_k}: rel err {err:.2e} / {err_auto:.2e}"
            f" {'ok' if ok else 'FAIL'}")
    return results


def bench_shape(name: str, n: int, k: int, ms: tuple[int, ...], table, use_flag_gems: bool,
                log: Callable[[str], None], graph_ms: tuple[int, ...] = (1, 4, 16)) -> list[dict]:
    """Time ours / cuBLAS bf16 / FlagGems for one weight shape over ``ms``."""
    import triton.testing

    from roboos.brain.quant import flaggems, kernels
    from roboos.brain.quant.configs import select_config
    from roboos.brain.quant.reference import dequantize_weight, quantize_weight

    l2_bytes = 200 << 20
    q, s = quantize_weight(torch.randn(n, k, device="cuda"), 0, torch.bfloat16)
    w16 = dequantize_weight(q, s, torch.bfloat16)
    copies_q = max(2, math.ceil(l2_bytes / q.numel()))
    copies_w = max(2, math.ceil(l2_bytes / (2 * w16.numel())))
    qs = [q] + [q.clone() for _ in range(copies_q - 1)]
    ws = [w16] + [w16.clone() for _ in range(copies_w - 1)]
    rows = []
    for m in ms:
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        cfg, source = select_config(m, n, k, 0, "bfloat16", table)
        if cfg.kind == "flag_gems" and not flaggems.available():
            cfg, source = heuristic_config(m, n, k), "heuristic"
        ref = x.float() @ w16.float().T
        impls: dict[str, tuple[Callable[[int], Callable[[], object]], int, int]] = {}
        if cfg.kind == "flag_gems":
            impls["w8a16"] = ((lambda i: (lambda: flaggems.w8a16_linear(x, qs[i], s))), copies_q,
                              weight_bytes(m, n, k, 0))
        else:
            impls["w8a16"] = ((lambda i: (lambda: kernels.w8a16_triton(x, qs[i], s, None, 0, cfg))), copies_q,
                              weight_bytes(m, n, k, 0))
        impls["cublas_bf16"] = ((lambda i: (lambda: torch.nn.functional.linear(x, ws[i]))), copies_w,
                                2 * n * k + 2 * m * k + 2 * m * n)
        if use_flag_gems and flaggems.available():
            impls["flag_gems_w8a16"] = ((lambda i: (lambda: flaggems.w8a16_linear(x, qs[i], s))), copies_q,
                                        weight_bytes(m, n, k, 0))
        for impl, (make, copies, nbytes) in impls.items():
            row = {"shape": name, "n": n, "k": k, "m": m, "impl": impl, "bytes": nbytes}
            if impl == "w8a16":
                row["config"] = {**cfg.to_dict(), "source": source}
            try:
                out = make(0)()
                row["rel_err"] = relative_error(out, ref)
                t_ms = triton.testing.do_bench(make(0), warmup=10, rep=60, return_mode="median")
                row["us"] = t_ms * 1e3
                row["gbps"] = nbytes / (t_ms * 1e-3) / 1e9
                row["tflops"] = 2 * m * n * k / (t_ms * 1e-3) / 1e12
                if m in graph_ms:
                    row["graph_us"] = graph_time_us(make, copies)
                    row["graph_gbps"] = nbytes / (row["graph_us"] * 1e-6) / 1e9
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            rows.append(row)
            log(f"{name:8s} M={m:<4d} {impl:16s} " + (
                f"{row['us']:8.1f} us {row['gbps']:7.0f} GB/s graph {row.get('graph_us', float('nan')):7.1f} us "
                f"{row.get('graph_gbps', float('nan')):6.0f} GB/s err {row['rel_err']:.1e}"
                if "us" in row else row.get("error", "")))
    del qs, ws
    torch.cuda.empty_cache()
    return rows


def summarize(rows: list[dict], copy_gbps: float) -> dict:
    """Per-M sums over one decoder layer (qkv + o + gate_up + down) and M=1 fraction of copy bandwidth."""
    summary: dict = {"copy_gbps": copy_gbps, "per_m": {}, "m1_fraction_of_copy_bw": {}}
    for m in sorted({r["m"] for r in rows}):
        sums = {}
        for impl in sorted({r["impl"] for r in rows}):
            sel = [r for r in rows if r["m"] == m and r["impl"] == impl and "us" in r]
            if len(sel) == len(SHAPES_7B):
                sums[impl] = {"us": sum(r["us"] for r in sel),
                              "graph_us": sum(r.get("graph_us", float("nan")) for r in sel)}
        if "w8a16" in sums and "cublas_bf16" in sums:
            sums["speedup_vs_cublas"] = sums["cublas_bf16"]["us"] / sums["w8a16"]["us"]
            sums["graph_speedup_vs_cublas"] = sums["cublas_bf16"]["graph_us"] / sums["w8a16"]["graph_us"]
        summary["per_m"][str(m)] = sums
    for r in rows:
        if r["m"] == 1 and r["impl"] == "w8a16" and "us" in r:
            summary["m1_fraction_of_copy_bw"][r["shape"]] = {
                "do_bench": r["gbps"] / copy_gbps, "graph": r.get("graph_gbps", float("nan")) / copy_gbps}
    return summary
