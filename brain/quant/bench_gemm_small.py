"""Small-M W8A16 GEMM sweep (issues 6 and 7): M = 4 … 64, where the int8 weights still bound the time.

Shapes: the four fused linears of the 7B model at M = 4, 16, 64 (batched decode, the bench rows of issue 6)
and the four of π0's Gemma-300M action expert at M = 50 (one 50-action chunk per Euler step, issue 7).
Per (shape, M): the committed PreTune config (the baseline, same run), the candidates of
:func:`~roboos.brain.quant.pretune.small_m_gemm_candidates` and bf16 cuBLAS (``F.linear``) on the same
weights, all timed as CUDA-graph replays over rotating weight copies larger than L2 (no launch gaps, weights
from HBM: how a decode step or a graphed π0 chunk runs them); every candidate is checked against the
float64 reference with a NaN-poisoned output first. Writes the result JSON after every shape (a timeout
keeps what was measured) and a kernel table with the winners. Imports only torch and triton::

    python -m roboos.brain.quant.bench_gemm_small --out OUT_DIR [--budget 200]
    python -m roboos.brain.quant.bench_gemm_small --dry-run      # candidates per case (no GPU)
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import torch
from roboos.brain.quant.bench_gemv2 import time_candidate
from roboos.brain.quant.bench_kernels import SHAPES_7B
from roboos.brain.quant.configs import m_bucket
from roboos.brain.quant.pretune import small_m_gemm_candidates

# π0's action expert (Gemma 300M: width 1024, 8 query heads and 1 KV head of 256, MLP 4096), fused projections
SHAPES_PI0_EXPERT = {"qkv": (2560, 1024), "o": (1024, 2048), "gate_up": (8192, 1024), "down": (1024, 4096)}


def cases() -> list[tuple[str, int, int, int]]:
    """(name, M, N, K) in the order they are measured (π0 first: issue 7 depends on them)."""
    out = [(f"pi0_expert_{name}", 50, n, k) for name, (n, k) in SHAPES_PI0_EXPERT.items()]
    for m in (16, 64, 4):
        out += [(f"7b_{name}", m, n, k) for name, (n, k) in SHAPES_7B.items()]
    return out


def cublas_us(x: torch.Tensor, w16: torch.Tensor, copies: int) -> float:
    """bf16 cuBLAS ``F.linear`` timed like the candidates (graph over ``copies`` weight copies)."""
    from roboos.brain.quant.pretune import graph_time_us

    ws = [w16] + [w16.clone() for _ in range(copies - 1)]
    us = graph_time_us(lambda j: (lambda: torch.nn.functional.linear(x, ws[j])), len(ws), reps=10, trials=3)
    del ws
    return us


def run(out_dir: Path, budget_s: float = 200.0, log=print) -> dict:
    import triton
    from roboos.brain.quant.bench_kernels import copy_bandwidth
    from roboos.brain.quant.configs import select_config, shape_key, table_for_gpu
    from roboos.brain.quant.pretune import rotating_copies, weight_bytes
    from roboos.brain.quant.reference import dequantize_weight, quantize_weight, w8a16_matmul_ref

    t0 = time.perf_counter()
    gpu = torch.cuda.get_device_name(0)
    table = table_for_gpu(gpu)
    copy_gbps = copy_bandwidth()
    log(f"{gpu}: copy bandwidth {copy_gbps:.0f} GB/s (read + write)")
    gen = torch.Generator(device="cuda").manual_seed(0)
    doc = {"bench": "w8a16-gemm-small", "gpu": gpu, "copy_gbps": copy_gbps,
           "env": {"torch": torch.__version__, "triton": triton.__version__, "python": platform.python_version()},
           "command": "python -m roboos.brain.quant.bench_gemm_small --out OUT",
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "timing": "CUDA graph of one call per rotating weight copy (> 200 MB), per-call median of 3 trials; "
                     "W8A16 and bf16 cuBLAS on the same weights",
           "cases": {}}
    out_dir.mkdir(parents=True, exist_ok=True)
    data = table.to_json() if table is not None else {"gpu": gpu, "entries": {}}
    for name, m, n, k in cases():
        if time.perf_counter() - t0 > budget_s:
            log(f"budget of {budget_s:.0f}s used: {name} M={m} and later cases skipped")
            break
        q, s = quantize_weight(torch.randn(n, k, device="cuda", generator=gen), 0, torch.bfloat16)
        weights = rotating_copies(q)
        x = torch.randn(m, k, device="cuda", generator=gen).to(torch.bfloat16)
        ref = w8a16_matmul_ref(x.double(), q, s)
        nbytes = weight_bytes(m, n, k, 0)
        base_cfg, source = select_config(m, n, k, 0, "bfloat16", table)
        cands = [base_cfg] + [c for c in small_m_gemm_candidates(m, n, k) if c != base_cfg]
        rows = []
        for i, cfg in enumerate(cands):
            if i > 0 and time.perf_counter() - t0 > budget_s:
                break
            rows.append({"config": cfg.to_dict(), "baseline": i == 0,
                         **time_candidate(x, q, s, weights, ref, cfg, nbytes, copy_gbps, reps=5)})
        timed = [r for r in rows if "us" in r]
        base = rows[0] if "us" in rows[0] else None
        best = min(timed, key=lambda r: r["us"]) if timed else None
        w16 = dequantize_weight(q, s, torch.bfloat16)
        bf16_bytes = 2 * n * k + 2 * m * k + 2 * m * n
        try:
            cub = cublas_us(x, w16, max(2, -(-(200 << 20) // (2 * n * k))))
            cub_row = {"us": round(cub, 3), "gbps": round(bf16_bytes / (cub * 1e-6) / 1e9, 1)}
        except Exception as exc:  # noqa: BLE001  (recorded; the W8A16 rows stay)
            cub_row = {"error": f"{type(exc).__name__}: {str(exc)[:160]}"}
        key = shape_key(n, k, 0, "bfloat16")
        doc["cases"][f"{name}_m{m}"] = {
            "m": m, "n": n, "k": k, "bytes": nbytes, "key": key, "bucket": m_bucket(m),
            "baseline_source": source, "baseline": base, "best": best, "cublas_bf16": cub_row,
            "speedup_best_vs_cublas": round(cub_row["us"] / best["us"], 3) if best and "us" in cub_row else None,
            "tried": len(rows), "failed": sum("error" in r for r in rows), "candidates": rows}
        if best:
            c = best["config"]
            log(f"{name:18s} M={m:<3d} table {base['us'] if base else float('nan'):7.2f} us -> best "
                f"{best['us']:7.2f} us {best['gbps']:6.0f} GB/s ({best['fraction_of_copy_bw']:.0%}) "
                f"bm={c['block_m']} bn={c['block_n']} bk={c['block_k']} sk={c['split_k']} w={c['num_warps']} "
                f"st={c['num_stages']} | cuBLAS bf16 {cub_row.get('us', float('nan')):7.2f} us "
                f"({len(rows)} tried, {doc['cases'][f'{name}_m{m}']['failed']} failed)")
            bucket = str(m_bucket(m))
            if base is None or best["us"] < 0.98 * base["us"]:
                data["entries"].setdefault(key, {})[bucket] = {**c, "time_us": best["us"], "gbps": best["gbps"]}
        doc["wall_s"] = round(time.perf_counter() - t0, 1)
        (out_dir / "w8a16-gemm-small.json").write_text(json.dumps(doc, indent=1))
        (out_dir / "kernel-table.json").write_text(json.dumps(data, indent=1) + "\n")
        del weights, q, w16
        torch.cuda.empty_cache()
    return doc


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--budget", type=float, default=200.0, help="seconds after which no new config is tried")
    ap.add_argument("--dry-run", action="store_true", help="print the candidates per case and exit")
    args = ap.parse_args(argv)
    if args.dry_run:
        for name, m, n, k in cases():
            cands = small_m_gemm_candidates(m, n, k)
            print(f"{name} M={m} N={n} K={k}: {len(cands)} candidates")
        return
    if args.out is None:
        ap.error("--out is required")
    doc = run(args.out, args.budget)
    print(f"{'case':24s} {'table us':>9s} {'best us':>8s} {'% copy':>7s} {'cuBLAS us':>10s} {'x cuBLAS':>8s}")
    for name, res in doc["cases"].items():
        b, best = res["baseline"] or {}, res["best"] or {}
        print(f"{name:24s} {b.get('us', float('nan')):9.2f} {best.get('us', float('nan')):8.2f} "
              f"{best.get('fraction_of_copy_bw', float('nan')):7.1%} {res['cublas_bf16'].get('us', float('nan')):10.2f} "
              f"{res['speedup_best_vs_cublas'] or float('nan'):8.2f}")


if __name__ == "__main__":
    main()
