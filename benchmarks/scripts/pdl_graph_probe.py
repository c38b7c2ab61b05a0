"""Probe: does programmatic dependent launch (PDL) survive CUDA-graph capture with Triton's ``launch_pdl``?
``python benchmarks/scripts/pdl_graph_probe.py [OUT.json]`` (GPU, sm_90+; torch + triton only).

Kernel A lets dependents launch, then spins for ``A_NS`` on one program. Kernel B spins for
``B_NS`` *before* ``gdc_wait`` (work that does not depend on A), then waits for A. Without an overlap the
pair takes about A + B; with PDL in effect B's pre-wait spin runs during A, and the pair takes about
max(A, B). Each pair is timed launched on a stream and replayed from a captured CUDA graph.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait, globaltimer

A_NS, B_NS = 20_000, 15_000


@triton.jit
def _spin(ns):
    start = globaltimer()
    while globaltimer() - start < ns:
        pass


@triton.jit
def _kernel_a(out_ptr, ns, PDL: tl.constexpr):
    if PDL:  # dependents may launch now; their gdc_wait still waits for this kernel to finish
        gdc_launch_dependents()
    _spin(ns)
    tl.store(out_ptr, 1)


@triton.jit
def _kernel_b(out_ptr, ns, PDL: tl.constexpr):
    _spin(ns)  # independent of A
    if PDL:
        gdc_wait()
    tl.store(out_ptr + 1, tl.load(out_ptr) + 1)


def _pair(buf: torch.Tensor, pdl: bool) -> None:
    extra = {"launch_pdl": True} if pdl else {}
    _kernel_a[(1,)](buf, A_NS, PDL=pdl, **extra)
    _kernel_b[(1,)](buf, B_NS, PDL=pdl, **extra)


def _time_us(fn, reps: int = 50) -> float:
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ts = []
    for _ in range(5):
        a.record()
        for _ in range(reps):
            fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1e3 / reps)
    return sorted(ts)[2]


def main() -> None:
    if not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0):
        sys.exit("needs an sm_90+ GPU")
    buf = torch.zeros(2, device="cuda", dtype=torch.int32)
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__,
           "cuda": torch.version.cuda, "a_us": A_NS / 1e3, "b_pre_wait_us": B_NS / 1e3,
           "command": "python benchmarks/scripts/pdl_graph_probe.py " + " ".join(sys.argv[1:]), "pair_us": {}}
    for pdl in (False, True):
        _pair(buf, pdl)
        torch.cuda.synchronize()
        out["pair_us"][f"stream_pdl_{pdl}"] = round(_time_us(lambda pdl=pdl: _pair(buf, pdl)), 2)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            _pair(buf, pdl)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(10):
                _pair(buf, pdl)
        graph.replay()
        torch.cuda.synchronize()
        out["pair_us"][f"graph_pdl_{pdl}"] = round(_time_us(graph.replay, reps=5) / 10, 2)
    p = out["pair_us"]
    out["pdl_overlaps_on_stream"] = p["stream_pdl_True"] < p["stream_pdl_False"] - 0.5 * B_NS / 1e3
    out["pdl_overlaps_in_graph"] = p["graph_pdl_True"] < p["graph_pdl_False"] - 0.5 * B_NS / 1e3
    print(json.dumps(out, indent=2))
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
