"""``roboos bench w8a16`` (also ``python -m roboos.brain.quant.bench`` on a bare GPU machine): GPU
correctness checks, copy bandwidth, PreTune of the 7B shapes, per-shape kernel timings against bf16 cuBLAS
and FlagGems, and the end-to-end decode comparison. Writes ``w8a16-<gpu>.json`` (and the tuned table
``<gpu>.json``) into the output folder. Imports torch / triton / transformers only.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from roboos.brain.quant.configs import M_BUCKETS, gpu_slug, load_table, table_for_gpu


def environment() -> dict:
    import triton
    import transformers

    from roboos.brain.quant import flaggems

    props = torch.cuda.get_device_properties(0)
    return {"gpu": props.name, "sm_count": props.multi_processor_count,
            "memory_gb": round(props.total_memory / 2**30, 1), "torch": torch.__version__,
            "triton": triton.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda,
            "python": platform.python_version(), "flag_gems": flaggems.version(),
            "flag_gems_available": flaggems.available(), "flag_gems_unavailable_reason": flaggems.why(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv)}


def format_table(rows: list[dict]) -> str:
    """Plain text table: one line per (shape, M) with each implementation's time and GB/s."""
    impls = sorted({r["impl"] for r in rows})
    header = f"{'shape':8s} {'M':>4s} " + " ".join(f"{i + ' us':>20s} {'GB/s':>6s}" for i in impls)
    lines = [header]
    for shape in dict.fromkeys(r["shape"] for r in rows):
        for m in sorted({r["m"] for r in rows if r["shape"] == shape}):
            cells = []
            for impl in impls:
                r = next((r for r in rows if r["shape"] == shape and r["m"] == m and r["impl"] == impl), None)
                if r is None or "us" not in r:
                    cells.append(f"{'-':>20s} {'-':>6s}")
                else:
                    g = f"/{r['graph_us']:.1f}" if "graph_us" in r else ""
                    cells.append(f"{r['us']:.1f}{g:>8s}".rjust(20) + f" {r['gbps']:6.0f}")
            lines.append(f"{shape:8s} {m:4d} " + " ".join(cells))
    return "\n".join(lines)


def run(out_dir: Path, tune: bool = True, e2e: bool = True, table_file: Path | None = None,
        new_tokens: int = 256, hf_compile: bool = False, log: Callable[[str], None] = print) -> dict:
    """Run everything and write the JSON; returns the result dict."""
    from roboos.brain.quant import bench_kernels
    from roboos.brain.quant.pretune import build_table

    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    result: dict = {"bench": "w8a16", "env": environment()}
    log(f"env: {result['env']}")
    result["checks"] = bench_kernels.gpu_checks(log)
    result["copy_gbps"] = bench_kernels.copy_bandwidth()
    log(f"copy bandwidth: {result['copy_gbps']:.0f} GB/s (read + write)")
    gpu = result["env"]["gpu"]
    table = load_table(table_file) if table_file else table_for_gpu(gpu)
    if tune:
        t0 = time.perf_counter()
        table = build_table(bench_kernels.SHAPES_7B.values(), torch.bfloat16, 0, M_BUCKETS,
                            flag_gems=True, progress=lambda s: log(f"tune {s}"))
        path = table.save(out_dir / f"{gpu_slug(gpu)}.json")
        result["tune_s"] = time.perf_counter() - t0
        log(f"tuned table written to {path} in {result['tune_s']:.0f} s")
    result["table_source"] = "tuned in this run" if tune else (str(table_file) if table_file else "committed")
    rows = []
    for name, (n, k) in bench_kernels.SHAPES_7B.items():
        rows += bench_kernels.bench_shape(name, n, k, bench_kernels.BENCH_M, table, True, log)
    result["kernels"] = rows
    result["summary"] = bench_kernels.summarize(rows, result["copy_gbps"])
    log(json.dumps(result["summary"], indent=1))
    if e2e:
        if table is not None:  # the decode path must use the table measured here
            import os
            os.environ["ROBOOS_KERNEL_TABLE"] = str(table.save(out_dir / "active_table.json"))
        result["e2e"] = run_e2e_safe(log, new_tokens, hf_compile)
    result["wall_s"] = time.perf_counter() - t_start
    path = out_dir / f"w8a16-{gpu_slug(gpu)}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    log(format_table(rows))
    log(f"results written to {path}")
    if e2e and hf_compile:  # last, as it can take minutes: the results above are already on disk
        from roboos.brain.quant.bench_e2e import hf_compiled_reference
        result["e2e"]["hf_static_bf16_compiled"] = hf_compiled_reference(log)
        path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return result


def run_e2e_safe(log, new_tokens: int, hf_compile: bool) -> dict:
    from roboos.brain.quant.bench_e2e import run_e2e

    try:
        return run_e2e(log, new_tokens=new_tokens)
    except Exception as exc:
        import traceback
        log(traceback.format_exc())
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--no-tune", action="store_true", help="use the committed table instead of tuning")
    parser.add_argument("--no-e2e", action="store_true")
    parser.add_argument("--table", type=Path, default=None)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--hf-compile", action="store_true",
                        help="also time transformers' static cache with torch.compile (slow to compile; runs last)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("roboos bench w8a16 needs a CUDA GPU", file=sys.stderr)
        return 2
    run(args.out, not args.no_tune, not args.no_e2e, args.table, args.new_tokens, args.hf_compile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
