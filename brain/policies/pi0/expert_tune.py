"""Graph-timed tile sweep of the fused expert kernels (:mod:`.expert_triton`) at π0's real shapes, then the
policy benchmark with the winners installed: ``python -m roboos.brain.policies.pi0.expert_tune --out DIR``.

Sweeps the pre-normed q/k/v and gate/up kernels (bf16 ``h·(1 + w)`` + row sums), the residual kernels as the
fused path runs them (also writing the next norm's inputs), the fourth round's norm-in-prologue kernels
for comparison, and the key-split attention (tiles and slices) against the compiled math attention
(``--only`` picks kernels); then benches eager / math / fused (pre-normed) and, in a second run with its own eager
baseline, fused with the norm in the prologue.

Each candidate launches once per expert layer (18 distinct weight sets, so weights stream from HBM as in a
chunk) inside a CUDA graph; the graph is replayed and timed with device events; µs per call is reported next
to cuBLAS's bf16 GEMM of the same shape. Candidates that fail to compile or do not match a float64
reference within bf16 rounding are dropped. Writes ``DIR/expert-tiles.json`` and (unless ``--no-bench``)
``DIR/policy.json`` from :func:`~roboos.brain.policies.bench.run_policy_bench` (eager, math, fused).
``--int8`` sweeps the four pre-normed kernels on W8A16 weights instead and only reports
(``DIR/expert-tiles-int8.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from roboos.brain.policies.pi0 import expert_triton as et
from roboos.brain.policies.pi0.config import preset
from roboos.brain.quant.pretune import graph_time_us
from roboos.brain.quant.reference import quantize_weight

Tiles = et.Tiles


def _candidates(kind: str) -> list[Tiles]:
    if kind == "qkv":  # pre-normed: bf16 activations through the pipeline
        return [Tiles(bn, bk, 1, 4, s) for bn in (16, 32) for bk in (64, 128) for s in (3, 4, 5)]
    if kind == "gate_up":
        return [Tiles(bn, bk, 1, 4, s) for bn in (16, 32, 64) for bk in (64, 128) for s in (3, 4, 5)]
    if kind == "qkv_norm":  # the fourth round's norm-in-prologue kernels: its winners, for a same-run comparison
        return [Tiles(16, 64, 1, 4, 4), Tiles(16, 64, 1, 4, 3)]
    if kind == "gate_up_norm":
        return [Tiles(32, 64, 1, 4, 4), Tiles(32, 64, 1, 4, 3)]
    return [Tiles(bn, 128, sp, 4, s) for bn in (16, 32) for sp in (1, 2, 4) for s in (4, 5)]


def _graph_us(launch: Callable[[int], None], layers: int) -> float:
    """µs per launch: ``launch(i)`` for every layer captured in one graph (``pretune.graph_time_us``)."""
    return graph_time_us(lambda i: partial(launch, i), layers, trials=3)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


GEMM_KINDS = ("qkv", "o", "gate_up", "down", "qkv_norm", "gate_up_norm")
W8A16_KINDS = ("qkv", "o", "gate_up", "down")  # the kernels that take int8 weights


def sweep(tokens: int = 50, log: Callable[[str], None] = print,
          kinds: tuple[str, ...] = GEMM_KINDS, int8: bool = False) -> dict[str, Any]:
    """Time every candidate per kernel; returns {kernel: {"best": tiles, "rows": [...], "cublas_us": ...}}.

    ``int8``: the pre-normed kernels on W8A16 weights (int8, per-channel scales) instead of bf16; the cuBLAS
    figure stays bf16."""
    if int8 and set(kinds) - set(W8A16_KINDS):
        raise ValueError(f"int8 weights run on the pre-normed kernels only: {', '.join(W8A16_KINDS)}")
    cfg = preset("pi0").expert
    dev, dt = torch.device("cuda"), torch.bfloat16
    n_layers, w, d, nq, f = cfg.depth, cfg.width, cfg.head_dim, cfg.num_heads, cfg.mlp_dim
    g = torch.Generator(device=dev).manual_seed(0)

    def rnd(*shape: int, scale: float = 1.0, dtype: torch.dtype = dt) -> torch.Tensor:
        return (torch.randn(*shape, device=dev, generator=g) * scale).to(dtype)

    wqkv = [rnd(nq * d + 2 * d, w, scale=w**-0.5) for _ in range(n_layers)]
    wo = [rnd(w, nq * d, scale=(nq * d) ** -0.5) for _ in range(n_layers)]
    wgu = [rnd(2 * f, w, scale=w**-0.5) for _ in range(n_layers)]
    wdn = [rnd(w, f, scale=f**-0.5) for _ in range(n_layers)]
    bf16 = {"qkv": list(wqkv), "o": list(wo), "gate_up": list(wgu), "down": list(wdn)}  # cuBLAS baselines
    scales: dict[str, list[torch.Tensor]] = {}
    if int8:  # the kernels read int8 + scales; the references use the dequantized weights
        for name, ws in (("qkv", wqkv), ("o", wo), ("gate_up", wgu), ("down", wdn)):
            pairs = [quantize_weight(w_, 0) for w_ in ws]
            ws[:] = [p[0] for p in pairs]
            scales[name] = [p[1].view(-1) for p in pairs]

    def sc(kind: str, i: int) -> torch.Tensor | None:
        return scales[kind][i] if scales else None

    def ref_w(kind: str, ws: list[torch.Tensor]) -> torch.Tensor:
        return ws[0].double() * scales[kind][0].double()[:, None] if scales else ws[0].double()
    nw = rnd(w, scale=0.1)
    h = rnd(tokens, w, dtype=torch.float32)
    cos, sin = torch.rand(tokens, d, device=dev), torch.rand(tokens, d, device=dev)
    q = torch.empty(tokens, nq * d, device=dev, dtype=dt)
    kb = torch.empty(1, 1, 400, d, device=dev, dtype=dt)
    vb = torch.empty_like(kb)
    act = torch.empty(tokens, f, device=dev, dtype=dt)
    xo, xd = rnd(tokens, nq * d), rnd(tokens, f)
    hn = (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * (1 + nw.float())).double()
    # the pre-normed kernels' inputs, as a residual kernel with BLOCK_N = 16 writes them
    xn = (h * (1 + nw.float())).to(dt)
    ssp = h.pow(2).view(tokens, w // 16, 16).sum(-1).contiguous()
    counters = torch.zeros(4096, device=dev, dtype=torch.int32)

    def norm_out(tiles: Tiles, k: int) -> et.NormOut:
        return et.NormOut(nw, torch.empty(tokens, w, device=dev, dtype=dt),
                          torch.empty(tokens, et.partials(w, k, tiles), device=dev), counters)

    def check(kind: str, tiles: Tiles) -> float:
        c0, s0 = torch.ones_like(cos), torch.zeros_like(sin)  # identity rotation: a plain GEMM check
        if kind in ("qkv", "qkv_norm"):
            if kind == "qkv":
                et.qkv_rope(xn, ssp, wqkv[0], c0, s0, q, kb, vb, tokens, 300, d, 1e-6, tiles, sc("qkv", 0))
            else:
                et.norm_qkv_rope(h, nw, wqkv[0], c0, s0, q, kb, vb, tokens, 300, d, 1e-6, tiles)
            ref = hn @ ref_w("qkv", wqkv).T
            return max(_rel(q, ref[:, : nq * d]), _rel(kb[0, 0, 300 : 300 + tokens], ref[:, nq * d : nq * d + d]))
        if kind in ("gate_up", "gate_up_norm"):
            if kind == "gate_up":
                et.gate_up_gelu(xn, ssp, wgu[0], act, 1e-6, tiles, sc("gate_up", 0))
            else:
                et.norm_gate_up_gelu(h, nw, wgu[0], act, 1e-6, tiles)
            gate, up = (hn @ ref_w("gate_up", wgu).T).chunk(2, -1)
            return _rel(act, F.gelu(gate, approximate="tanh") * up)
        x, ws = (xo, wo) if kind == "o" else (xd, wdn)
        errs = []
        for _ in range(3):  # the split-K counters must come back to zero for the next launch
            hh, no = h.clone(), norm_out(tiles, x.shape[1])
            et.gemm_residual(x, ws[0], hh, tiles, norm=no, scale=sc(kind, 0))
            ref = h.double() + x.double() @ ref_w(kind, ws).T
            errs += [_rel(hh, ref), _rel(no.out, ref * (1 + nw.double())), _rel(no.ss.sum(-1), ref.pow(2).sum(-1))]
        return max(errs) if bool((counters == 0).all()) else float("inf")

    def launcher(kind: str, tiles: Tiles) -> Callable[[int], None]:
        """One launch per layer (each its own weights, streamed from HBM as in a chunk)."""
        if kind == "qkv":
            return lambda i: et.qkv_rope(xn, ssp, wqkv[i], cos, sin, q, kb, vb, tokens, 300, d, 1e-6, tiles,
                                         sc("qkv", i))
        if kind == "qkv_norm":
            return lambda i: et.norm_qkv_rope(h, nw, wqkv[i], cos, sin, q, kb, vb, tokens, 300, d, 1e-6, tiles)
        if kind == "gate_up":
            return lambda i: et.gate_up_gelu(xn, ssp, wgu[i], act, 1e-6, tiles, sc("gate_up", i))
        if kind == "gate_up_norm":
            return lambda i: et.norm_gate_up_gelu(h, nw, wgu[i], act, 1e-6, tiles)
        x, ws = (xo, wo) if kind == "o" else (xd, wdn)
        hh, no = torch.zeros(tokens, w, device=dev), norm_out(tiles, x.shape[1])  # residual + next norm's inputs
        return lambda i: et.gemm_residual(x, ws[i], hh, tiles, norm=no, scale=sc(kind, i))

    baselines = {"qkv": (hn.to(dt), bf16["qkv"]), "gate_up": (hn.to(dt), bf16["gate_up"]), "o": (xo, bf16["o"]),
                 "down": (xd, bf16["down"])}
    result: dict[str, Any] = {}
    for kind in kinds:
        x, ws = baselines[kind.replace("_norm", "")]
        cublas = _graph_us(lambda i, x=x, ws=ws: F.linear(x, ws[i]), n_layers)
        rows = []
        for tiles in _candidates(kind):
            try:
                err = check(kind, tiles)
                us = _graph_us(launcher(kind, tiles), n_layers) if err < 1e-2 else float("nan")
            except Exception as exc:  # noqa: BLE001  # a tile shape the compiler rejects
                rows.append({**asdict(tiles), "error": f"{type(exc).__name__}: {str(exc)[:160]}"})
                continue
            rows.append({**asdict(tiles), "us": round(us, 2), "rel_err": round(err, 5)})
        ok = [r for r in rows if "us" in r and r["us"] == r["us"]]
        if not ok:
            result[kind] = {"cublas_gemm_us": round(cublas, 2), "error": "no candidate ran correctly", "rows": rows}
            log(f"{kind}: no candidate ran correctly: {rows[:3]}")
            continue
        best = min(ok, key=lambda r: r["us"])
        result[kind] = {"cublas_gemm_us": round(cublas, 2), "best": best, "rows": rows,
                        "counters_clean": bool((counters == 0).all())}
        log(f"{kind}: best {best} vs cuBLAS GEMM alone {cublas:.2f} us")
    prep = et.NormOut(nw, torch.empty(tokens, w, device=dev, dtype=dt), torch.empty(tokens, 1, device=dev))
    result["rms_prep_us"] = round(_graph_us(lambda i: et.rms_prep(h, prep), n_layers), 2)
    return result


def _attention_candidates() -> list[tuple[tuple[int, int, int, int], int]]:
    """((BLOCK_M, BLOCK_N, warps, stages), key slices) of the key-split attention kernel."""
    blocks = [(16, 32, w, st) for w in (4, 8) for st in (2, 3, 4)] + [(16, 64, w, st) for w in (4, 8) for st in (2, 3)]
    return [(blk, sp) for blk in blocks for sp in (2, 3, 4, 5)]


def _attention_call(qf: torch.Tensor, ks: list[torch.Tensor], vs: list[torch.Tensor], bias: torch.Tensor,
                    splits: int, ws: Any, i: int) -> None:
    from roboos.brain.policies.pi0.attention_triton import fused_attention

    fused_attention(qf, ks[i], vs[i], bias, splits=splits, workspace=ws)


def sweep_attention(cameras: int = 1, log: Callable[[str], None] = print, device: str = "cuda") -> dict[str, Any]:
    """The expert's attention at π0's real shape, graph-timed: the compiled math path (two matmuls + softmax,
    as ``fused_expert.ATTENTION = "math"`` runs it) against the key-split kernel's candidates."""
    from roboos.brain.policies.pi0 import attention_triton as at
    from roboos.brain.policies.pi0.layers import attend

    cfg = preset("pi0").with_cameras(cameras)
    spec, dev, dt = cfg.expert, torch.device(device), torch.bfloat16
    h, nq, d, n_layers = cfg.chunk_size, spec.num_heads, spec.head_dim, spec.depth
    tk = -(-(cfg.prefix_len + 1 + h) // 8) * 8
    g = torch.Generator(device=dev).manual_seed(0)
    q = torch.randn(1, h, nq, d, device=dev, generator=g).to(dt)
    ks = [torch.randn(1, 1, tk, d, device=dev, generator=g).to(dt) for _ in range(n_layers)]
    vs = [torch.randn(1, 1, tk, d, device=dev, generator=g).to(dt) for _ in range(n_layers)]
    mask = torch.ones(1, 1, h, tk, dtype=torch.bool, device=dev)
    mask[..., tk - 6 :] = False  # padding keys, as the real cache has them
    bias = torch.zeros(mask.shape, device=dev, dtype=dt).masked_fill(~mask, float("-inf")).repeat_interleave(nq, 2)
    math_fn = torch.compile(lambda q, k, v, b: attend(q, k, v, b, impl="math"), dynamic=False)
    ref = torch.softmax(q.view(1, 1, h * nq, d).double() @ ks[0].double().transpose(-1, -2) * d**-0.5
                        + bias.double(), -1) @ vs[0].double()
    ref = ref.view(1, h * nq * d)
    math_us = _graph_us(lambda i: math_fn(q, ks[i], vs[i], bias), n_layers)
    qf = q.view(1, 1, h * nq, d)
    rows, default = [], at.BLOCKS
    try:
        for blocks, splits in _attention_candidates():
            at.BLOCKS = blocks
            pl = at.plan(1, 1, h * nq, tk, d, dev, splits)
            if pl.splits != splits:
                continue
            ws = pl.workspace(d, dev)
            row = {"block_m": blocks[0], "block_n": blocks[1], "warps": blocks[2], "stages": blocks[3],
                   "splits": splits}
            try:
                got = at.fused_attention(qf, ks[0], vs[0], bias, splits=splits, workspace=ws)
                err = _rel(got.view(1, -1), ref)
                ok = err < 1e-2 and bool((ws.counters == 0).all())
                launch = partial(_attention_call, qf, ks, vs, bias, splits, ws)
                us = _graph_us(launch, n_layers) if ok else float("nan")
            except Exception as exc:  # noqa: BLE001  # a tile shape the compiler rejects (shared memory)
                rows.append({**row, "error": f"{type(exc).__name__}: {str(exc)[:160]}"})
                continue
            rows.append({**row, "us": round(us, 2), "rel_err": round(err, 5)})
    finally:
        at.BLOCKS = default
    ok = [r for r in rows if "us" in r and r["us"] == r["us"]]
    best = min(ok, key=lambda r: r["us"]) if ok else None
    log(f"attention ({cameras} camera, {tk} keys): math {math_us:.2f} us, best split {best}")
    return {"cameras": cameras, "keys": tk, "math_us": round(math_us, 2), "best": best, "rows": rows}


PRENORMED = ("qkv", "o", "gate_up", "down")  # the kernels of the default (pre-normed) fused path


def install(result: dict[str, Any]) -> list[str]:
    """Make the sweep's winners the tiles of this process; returns the kernels without a working candidate."""
    failed = []
    att = result.get("attention", {}).get("best")
    if att is not None:  # the key-split attention's winner (whether the expert runs it is fused_expert.ATTENTION)
        from roboos.brain.policies.pi0 import attention_triton, fused_expert

        attention_triton.BLOCKS = (att["block_m"], att["block_n"], att["warps"], att["stages"])
        fused_expert.ATTENTION_SPLITS = att["splits"]
    for kind in (*PRENORMED, "qkv_norm", "gate_up_norm"):
        if kind not in result:
            continue
        b = result[kind].get("best")
        if b is None:
            failed.append(kind)
            continue
        et.TILES[kind] = Tiles(int(b["block_n"]), int(b["block_k"]), int(b["split_k"]), int(b["warps"]),
                               int(b["stages"]))
    return failed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--no-bench", action="store_true")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--eager-iters", type=int, default=5)
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--impls", default="math,fused")
    ap.add_argument("--only", default=",".join((*GEMM_KINDS, "attention")),
                    help="comma list of the kernels to sweep (default: all)")
    ap.add_argument("--int8", action="store_true",
                    help="sweep the pre-normed kernels on W8A16 weights; reports only (installs and benches nothing)")
    args = ap.parse_args(argv)
    kinds = tuple(k for k in args.only.split(",") if k)
    if args.int8:
        kinds = tuple(k for k in kinds if k in W8A16_KINDS)
    unknown = set(kinds) - {*GEMM_KINDS, "attention"}
    if unknown:
        sys.exit(f"unknown kernels {sorted(unknown)}: choose from {', '.join((*GEMM_KINDS, 'attention'))}")
    if not torch.cuda.is_available():
        sys.exit("the expert tile sweep needs a CUDA GPU")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = sweep(kinds=tuple(k for k in kinds if k != "attention"), int8=args.int8)
    if "attention" in kinds:
        result["attention"] = sweep_attention()
    failed = [] if args.int8 else install(result)
    doc = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "sweep_s": round(time.perf_counter() - t0, 1),
           "tiles": {k: v.get("best") for k, v in result.items() if isinstance(v, dict)}, "failed": failed,
           "sweep": result}
    (args.out / ("expert-tiles-int8.json" if args.int8 else "expert-tiles.json")).write_text(json.dumps(doc, indent=2))
    if args.no_bench or args.int8:
        return
    from roboos.brain.policies.bench import print_table, run_policy_bench
    from roboos.brain.policies.pi0 import fused_expert

    impls = tuple(i for i in args.impls.split(",") if i)
    command = "python -m roboos.brain.policies.pi0.expert_tune " + " ".join(argv or sys.argv[1:])
    prenorm_ok = not any(k in failed for k in PRENORMED)
    # run 1: eager, math, fused (pre-normed); run 2 (own eager baseline): fused with the norm in the prologue
    runs = [("", impls)] + ([("_norm_prologue", ("fused",))] if prenorm_ok and "fused" in impls else [])
    default = fused_expert.PRENORM
    for suffix, run_impls in runs:
        fused_expert.PRENORM = prenorm_ok and suffix == ""
        path = args.out / f"policy{suffix}.json"
        bench = run_policy_bench(
            (1,), args.iters, args.eager_iters, 1, True, False, budget_s=args.budget, attention_impls=run_impls,
            compiled_sdpa=False, graph_uncompiled=False, autotune=False,
            partial=lambda d, path=path: path.write_text(json.dumps({**d, "expert_tiles": doc}, indent=2)),
            command=command,
        )
        bench["fused_prenorm"] = fused_expert.PRENORM
        path.write_text(json.dumps({**bench, "expert_tiles": doc}, indent=2))
        print_table(bench)
        torch.cuda.empty_cache()
    fused_expert.PRENORM = default

if __name__ == "__main__":
    main()
