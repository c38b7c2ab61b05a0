"""Probe: how much of a π0 expert layer-step is waiting on HBM, and does an L2 prefetch on a side stream recover
it? ``python benchmarks/scripts/l2_prefetch_probe.py [OUT.json]`` (GPU; run with scripts/device_env.sh).

One layer-step = the fused expert's four kernels (q/k/v, o + residual, gate/up, down + residual) with the
compiled math attention between q/k/v and o, 18 layers per CUDA graph, timed per layer-step:

* ``streamed``: 18 distinct weight sets (34.6 MB each), as in a chunk;
* ``resident``: one weight set for every layer (its 34.6 MB stay in the 50 MB L2): the upper bound;
* ``prefetch``: streamed, plus a side-stream kernel that, when the layer's q/k/v kernel starts, prefetches
  into L2 that layer's gate/up and down weights (they are read after the attention, which reads no weights)
  and, when o starts, the next layer's q/k/v and o weights (``cp.async.bulk.prefetch.L2``).
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import torch
import triton
import triton.language as tl
from roboos.brain.policies.pi0 import expert_triton as et
from roboos.brain.policies.pi0.config import preset
from roboos.brain.policies.pi0.layers import attend
from roboos.brain.quant.pretune import graph_time_us


@triton.jit
def _prefetch_kernel(ptr, n_bytes, CHUNK: tl.constexpr, VEC: tl.constexpr):
    pid = tl.program_id(0)
    idx = (pid * VEC + tl.arange(0, VEC)).to(tl.int64)
    start = tl.minimum(idx * CHUNK, n_bytes - CHUNK)
    sizes = tl.full([VEC], CHUNK, tl.int32)
    tl.inline_asm_elementwise("cp.async.bulk.prefetch.L2.global [$1], $2;\n mov.u32 $0, 0;", "=r,l,r",
                              [ptr.to(tl.pointer_type(tl.int8)) + start, sizes], dtype=tl.int32, is_pure=False,
                              pack=1)


def prefetch(t: torch.Tensor, chunk: int = 16384, vec: int = 32) -> None:
    n = t.numel() * t.element_size()
    _prefetch_kernel[(triton.cdiv(n, chunk * vec),)](t, n, CHUNK=chunk, VEC=vec, num_warps=1)


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("GPU only")
    cfg = preset("pi0")
    spec = cfg.expert
    dev, dt = torch.device("cuda"), torch.bfloat16
    L, w, d, nq, f, h = spec.depth, spec.width, spec.head_dim, spec.num_heads, spec.mlp_dim, cfg.chunk_size
    tk = -(-(cfg.prefix_len + 1 + h) // 8) * 8
    off = tk - h
    g = torch.Generator(device=dev).manual_seed(0)

    def rnd(*shape, scale=1.0, dtype=dt):
        return (torch.randn(*shape, device=dev, generator=g) * scale).to(dtype)

    wqkv = [rnd(nq * d + 2 * d, w, scale=w**-0.5) for _ in range(L)]
    wo = [rnd(w, nq * d, scale=(nq * d) ** -0.5) for _ in range(L)]
    wgu = [rnd(2 * f, w, scale=w**-0.5) for _ in range(L)]
    wdn = [rnd(w, f, scale=f**-0.5) for _ in range(L)]
    nw = rnd(w, scale=0.1)
    keys = [rnd(1, 1, tk, d) for _ in range(L)]
    vals = [rnd(1, 1, tk, d) for _ in range(L)]
    bias = torch.zeros(1, 1, h * nq, tk, device=dev, dtype=dt)
    cos, sin = torch.ones(h, d, device=dev), torch.zeros(h, d, device=dev)
    hidden = rnd(h, w, dtype=torch.float32)
    normed = (hidden * (1 + nw.float())).to(dt)
    q = torch.empty(h, nq * d, device=dev, dtype=dt)
    act = torch.empty(h, f, device=dev, dtype=dt)
    ss = {k: torch.empty(h, et.partials(w, kk, et.TILES[k]), device=dev) for k, kk in (("o", nq * d), ("down", f))}
    ss_prep = hidden.pow(2).sum(-1, keepdim=True)
    counters = torch.zeros(4096, device=dev, dtype=torch.int32)
    math_attn = torch.compile(lambda q, k, v, b: attend(q, k, v, b, impl="math"), dynamic=False)
    side = torch.cuda.Stream()

    def layer(i: int, j: int, mode: str) -> None:
        """Layer-step ``i`` with weight set ``j``."""
        main_s = torch.cuda.current_stream()
        if mode == "prefetch":
            side.wait_stream(main_s)
            with torch.cuda.stream(side):
                prefetch(wgu[j])
                prefetch(wdn[j])
        et.qkv_rope(normed, ss_prep, wqkv[j], cos, sin, q, keys[i], vals[i], h, off, d, 1e-6)
        a = math_attn(q.view(1, h, nq, d), keys[i], vals[i], bias).reshape(h, nq * d)
        if mode == "prefetch":
            side.wait_stream(main_s)
            with torch.cuda.stream(side):
                nxt = (j + 1) % L
                prefetch(wqkv[nxt])
                prefetch(wo[nxt])
        et.gemm_residual(a, wo[j], hidden, et.TILES["o"], norm=et.NormOut(nw, normed, ss["o"], counters))
        et.gate_up_gelu(normed, ss["o"], wgu[j], act, 1e-6)
        et.gemm_residual(act, wdn[j], hidden, et.TILES["down"], norm=et.NormOut(nw, normed, ss["down"], counters))
        if mode == "prefetch":
            main_s.wait_stream(side)  # join the side stream (graph capture needs it), after the layer's work

    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__,
           "command": "python benchmarks/scripts/l2_prefetch_probe.py " + " ".join(sys.argv[1:]),
           "weights_mb_per_layer": round(sum(t.numel() * 2 for t in (wqkv[0], wo[0], wgu[0], wdn[0])) / 1e6, 1),
           "us_per_layer_step": {}}
    for mode in ("streamed", "resident", "prefetch", "streamed", "prefetch"):
        hidden.normal_()  # a fresh residual stream per measurement (each layer adds O(1) to it)
        us = graph_time_us(lambda i, mode=mode: partial(layer, i, 0 if mode == "resident" else i, mode), L)
        out["us_per_layer_step"].setdefault(mode, []).append(round(us, 2))
        print(mode, round(us, 2), flush=True)
    print(json.dumps(out))
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
