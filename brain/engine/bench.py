"""Decode-speed benchmark of the RoboBrain 2.0-7B architecture (Qwen2.5-VL-7B) with random bf16 weights.

Needs only torch + transformers (runs on a bare GPU box):

    python -m roboos.brain.engine.bench --out benchmarks/results/brain-h100.json

Compares, in one process: (1) ``transformers`` ``generate`` with its default dynamic cache, (2) the same
with ``cache_implementation="static"`` (which compiles the forward), (3) :class:`FastGenerator`.
For each batch size it times a 1-token and an N-token generation (median of ``--repeats``);
decode tok/s = B * (N - 1) / (t_N - t_1), end-to-end tok/s = B * N / t_N.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

PRESETS = {
    # RoboBrain2.0-7B == Qwen2.5-VL-7B-Instruct architecture
    "7b": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
               "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 128000,
               "vision": {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584}},
    # a small configuration for smoke runs
    "tiny": {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "vocab_size": 1024, "max_position_embeddings": 4096,
                 "vision": {"depth": 1, "hidden_size": 64, "intermediate_size": 128, "num_heads": 2, "out_hidden_size": 256}},
}


def build_model(preset: str, device: str, dtype: torch.dtype):
    """A randomly initialised Qwen2.5-VL model (normal(0, 0.02) weights) built directly on ``device``."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    spec = dict(PRESETS[preset])
    vision = spec.pop("vision")
    text = dict(spec, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}
                if preset == "7b" else {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [8, 12, 12]},
                tie_word_embeddings=False, use_sliding_window=False)
    vocab = spec["vocab_size"]
    config = Qwen2_5_VLConfig(
        text_config=text, vision_config=dict(vision, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                                             window_size=112, fullatt_block_indexes=[7, 15, 23, 31]),
        image_token_id=vocab - 4, video_token_id=vocab - 3, vision_start_token_id=vocab - 2,
        vision_end_token_id=vocab - 1, tie_word_embeddings=False)
    config.text_config.bos_token_id = config.text_config.eos_token_id = None
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight") or "norm" in name.split(".")[-2]:
                param.fill_(1.0)
            elif name.endswith(".bias"):
                param.normal_(0.0, 0.02)
            else:
                param.normal_(0.0, 0.02)
    return model.eval()


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        _sync()
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _hf_runner(model, ids, mask, static: bool):
    def run(n):
        kwargs = {"cache_implementation": "static"} if static else {}
        return model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                              do_sample=False, eos_token_id=None, pad_token_id=0, **kwargs)
    return run


def _engine_runner(engine, ids, mask):
    def run(n):
        return engine.generate(ids, mask, max_new_tokens=n)
    return run


def measure(run, bsz: int, new_tokens: int, repeats: int, warmup: int) -> dict:
    """Time 1-token and N-token generations; derive decode and end-to-end tokens/s."""
    for _ in range(warmup):  # N first: a static cache sized for N is then reused by the 1-token runs
        run(new_tokens)
        run(1)
    t1 = _median_time(lambda: run(1), repeats)
    tn = _median_time(lambda: run(new_tokens), repeats)
    return {"batch": bsz, "t_prefill_plus_1_s": t1, "t_total_s": tn,
            "decode_tok_s": bsz * (new_tokens - 1) / max(tn - t1, 1e-9), "e2e_tok_s": bsz * new_tokens / tn}


def check_kernels(device: str) -> dict:
    """Fresh-random comparison of each Triton kernel with its torch reference (max relative error)."""
    from roboos.brain.engine import kernels as K

    torch.manual_seed(1234)
    dt_ = torch.bfloat16
    errs = {}

    def rel(a, b):
        return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-12))

    x, r, w = (torch.randn(shape, device=device, dtype=dt_) for shape in ((3, 3584), (3, 3584), (3584,)))
    out, res = K.add_rmsnorm(x, r, w, 1e-6)
    ref, rres = K.add_rmsnorm_ref(x, r, w, 1e-6)
    errs["add_rmsnorm"] = max(rel(out, ref), rel(res, rres))
    gu = torch.randn(3, 2 * 18944, device=device, dtype=dt_)
    errs["silu_mul"] = rel(K.silu_mul(gu[:, :18944], gu[:, 18944:]), K.silu_mul_ref(gu[:, :18944], gu[:, 18944:]))
    bsz, hq, hkv, d, s = 3, 28, 4, 128, 300
    qkv = torch.randn(bsz, (hq + 2 * hkv) * d, device=device, dtype=dt_)
    q, k, v = qkv.split([hq * d, hkv * d, hkv * d], dim=-1)
    q, k, v = q.view(bsz, hq, d), k.view(bsz, hkv, d), v.view(bsz, hkv, d)
    inv = 1.0 / (1e6 ** (torch.arange(0, d, 2, device=device).float() / d))
    pos = torch.tensor([17, 250, 3], device=device, dtype=torch.int32)
    widx = torch.tensor([260], device=device, dtype=torch.int32)
    kc, vc = torch.randn(bsz, hkv, s, d, device=device, dtype=dt_), torch.randn(bsz, hkv, s, d, device=device, dtype=dt_)
    kc2, vc2 = kc.clone(), vc.clone()
    qo = K.rope_write_cache(q, k, v, pos, inv, 1.0, kc, vc, widx)
    qr = K.rope_write_cache_ref(q, k, v, pos, inv, 1.0, kc2, vc2, widx)
    errs["rope_write_cache"] = max(rel(qo, qr), rel(kc, kc2), rel(vc, vc2))
    start = torch.tensor([0, 5, 100], device=device, dtype=torch.int32)
    errs["decode_attention"] = rel(K.decode_attention(qo, kc, vc, start, widx, d ** -0.5),
                                   K.decode_attention_ref(qo, kc, vc, start, widx, d ** -0.5))
    return errs


def check_step_logits(model, engine, ids) -> dict:
    """First decode-step logits of the engine (graph and eager) and of HF's cached decode, each compared
    with an HF forward over prompt + first token (no cache): relative L2 error and argmax agreement."""
    with torch.inference_mode():
        first = model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)
        full = model(input_ids=torch.cat([ids, first], dim=1)).logits[:, -1].float()
        pre = model(input_ids=ids, use_cache=True)
        cached = model(input_ids=first, past_key_values=pre.past_key_values, use_cache=True).logits[:, -1].float()
    report = {"ref_top2_gap": float((full.topk(2).values[:, 0] - full.topk(2).values[:, 1]).min())}
    variants = {"hf_cached_decode": cached}
    for name, use_graph in (("engine_graph", True), ("engine_eager", False)):
        prefill, step = engine.first_step_logits(ids, use_graph=use_graph)
        variants[name] = step
        report[f"{name}_first_token_ok"] = bool((prefill.argmax(-1, keepdim=True) == first).all())
    if engine.device.type == "cuda":  # isolate the Triton kernels: torch reference ops, eager and in a graph
        from roboos.brain.engine.generator import FastGenerator

        previous = os.environ.get("ROBOOS_ENGINE_TRITON")
        os.environ["ROBOOS_ENGINE_TRITON"] = "0"
        try:
            ref_engine = FastGenerator(model, max_seq_len=engine.max_seq_len, max_batch_size=ids.shape[0])
            variants["torchops_graph"] = ref_engine.first_step_logits(ids, use_graph=True)[1]
            variants["torchops_eager"] = ref_engine.first_step_logits(ids, use_graph=False)[1]
            del ref_engine
        finally:
            os.environ["ROBOOS_ENGINE_TRITON"] = previous or "1"
    for name, logits in variants.items():
        report[f"{name}_rel_err"] = float((logits - full).norm() / full.norm())
        report[f"{name}_argmax_ok"] = bool((logits.argmax(-1) == full.argmax(-1)).all())
    return report


def check_engine(model, engine, ids, mask, steps: int = 32) -> dict:
    """Greedy agreement of the engine with transformers' dynamic-cache generate on the same prompt."""
    ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=steps, min_new_tokens=steps,
                         do_sample=False, eos_token_id=None, pad_token_id=0)[:, ids.shape[1]:].tolist()
    got = engine.generate(ids, mask, max_new_tokens=steps).tokens
    prefix = [next((i for i, (a, b) in enumerate(zip(r, g)) if a != b), len(r)) for r, g in zip(ref, got)]
    same = sum(a == b for r, g in zip(ref, got) for a, b in zip(r, g)) / sum(len(r) for r in ref)
    return {"steps": steps, "matching_prefix_per_row": prefix, "token_agreement": same}


def environment(command: str) -> dict:
    import transformers

    info = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "command": command,
            "python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
            "transformers": transformers.__version__}
    try:
        import triton
        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2 ** 30, 1),
                    sm_count=props.multi_processor_count, cuda=torch.version.cuda)
    return info


def _table(rows: list[dict]) -> None:
    header = f"{'backend':<22}{'batch':>6}{'decode tok/s':>14}{'e2e tok/s':>12}{'t_total s':>11}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['backend']:<22}{r['batch']:>6}{r['decode_tok_s']:>14.1f}{r['e2e_tok_s']:>12.1f}{r['t_total_s']:>11.3f}")


def run(args: argparse.Namespace, command: str, log=print) -> dict:
    """Run the whole benchmark; returns the result document (also written to ``args.out``)."""
    from roboos.brain.engine.generator import FastGenerator

    device = args.device
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    log(f"building {args.preset} model (random bf16 weights) ...")
    t0 = time.perf_counter()
    model = build_model(args.preset, device, dtype)
    log(f"built in {time.perf_counter() - t0:.1f}s; params {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B")
    doc = {"benchmark": "brain", "environment": environment(command), "preset": args.preset,
           "prompt_tokens": args.prompt_len, "new_tokens": args.new_tokens, "repeats": args.repeats,
           "kernel_rel_err": check_kernels(device) if device == "cuda" else {}, "results": []}
    log(f"kernel check: {doc['kernel_rel_err']}")
    vocab = model.config.text_config.vocab_size
    gen = torch.Generator().manual_seed(7)
    max_b = max(args.batches)
    engine = FastGenerator(model, max_seq_len=args.prompt_len + max(args.new_tokens, 32) + 8, max_batch_size=max_b)
    prompts = torch.randint(0, vocab - 8, (max_b, args.prompt_len), generator=gen).to(device)
    try:
        doc["step_logits_check"] = check_step_logits(model, engine, prompts[:2])
    except Exception as exc:
        doc["step_logits_check"] = {"error": f"{type(exc).__name__}: {exc}"[:800]}
    log(f"step logits check: {doc['step_logits_check']}")
    try:
        doc["engine_check"] = check_engine(model, engine, prompts[:1], torch.ones_like(prompts[:1]))
    except Exception as exc:  # report and still time the baselines
        doc["engine_check"] = {"error": f"{type(exc).__name__}: {exc}"[:800]}
    log(f"engine check: {doc['engine_check']}")
    for backend in args.backends:
        for bsz in args.batches:
            ids = prompts[:bsz]
            mask = torch.ones_like(ids)
            runner = (_engine_runner(engine, ids, mask) if backend == "engine"
                      else _hf_runner(model, ids, mask, static=backend == "hf_static"))
            t0 = time.perf_counter()
            try:
                row = measure(runner, bsz, args.new_tokens, args.repeats, args.warmup)
            except Exception as exc:  # a baseline failing must not lose the other numbers
                row = {"batch": bsz, "error": f"{type(exc).__name__}: {exc}"[:500]}
            row.update(backend=backend, wall_s=round(time.perf_counter() - t0, 1))
            doc["results"].append(row)
            log(json.dumps(row))
            if args.out:
                _write(doc, args.out)
    ok = [r for r in doc["results"] if "error" not in r]
    best_static = max((r["decode_tok_s"] for r in ok if r["backend"] == "hf_static" and r["batch"] == 1), default=None)
    eng1 = next((r["decode_tok_s"] for r in ok if r["backend"] == "engine" and r["batch"] == 1), None)
    if best_static and eng1:
        doc["engine_speedup_vs_static_b1"] = eng1 / best_static
    if device == "cuda":
        doc["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2 ** 30, 2)
    if args.out:
        _write(doc, args.out)
    _table(ok)
    return doc


def _write(doc: dict, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=2))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="7b")
    p.add_argument("--prompt-len", type=int, default=256)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--backends", nargs="+", default=["engine", "hf_static", "hf_dynamic"],
                   choices=["engine", "hf_static", "hf_dynamic"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--out", default=None, help="JSON result path")
    p.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu (a smoke run)")
    return p


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("roboos bench brain needs a CUDA GPU")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    run(args, "python -m roboos.brain.engine.bench " + " ".join(argv))


if __name__ == "__main__":
    main()
