"""End-to-end part of ``roboos bench w8a16``: decode tokens/s of the RoboBrain 2.0 7B architecture at batch 1
(random weights), bf16 vs W8A16 through the project's fast decode engine (static KV cache + CUDA graphs,
``roboos.brain.engine.generator.FastGenerator``), and ``transformers`` with its static cache as the
reference; logits of W8A16 against bf16 on the same (dequantized) weights and on the original weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from roboos.brain.quant.pretune import relative_error


@torch.inference_mode()
def logits_pair(model, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Prefill logits of ``ids[:, :-1]`` (GEMM path) and the next step's logits for ``ids[:, -1]`` (M = 1)."""
    out = model(input_ids=ids[:, :-1], use_cache=True)
    step = model(input_ids=ids[:, -1:], past_key_values=out.past_key_values, use_cache=True)
    return out.logits[0].float(), step.logits[0, -1].float()


def compare(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """Relative errors and argmax agreement of logits ``a`` against reference ``b``."""
    return {"prefill_rel_err": relative_error(a[0], b[0]), "decode_rel_err": relative_error(a[1], b[1]),
            "prefill_argmax_agree": float((a[0].argmax(-1) == b[0].argmax(-1)).float().mean()),
            "decode_argmax_agree": bool(a[1].argmax() == b[1].argmax())}


def fast_decode_tps(model, prompt: torch.Tensor, new_tokens: int) -> dict:
    """tokens/s of the fast engine at batch 1 (graph captured by a warm-up call first)."""
    from roboos.brain.engine.generator import FastGenerator

    gen = FastGenerator(model, max_seq_len=prompt.shape[1] + new_tokens + 8, max_batch_size=1)
    gen.generate(prompt, max_new_tokens=16)
    out = gen.generate(prompt, max_new_tokens=new_tokens)
    steps = int(out.timings.get("steps", len(out.tokens[0])))
    res = {"tokens_per_s": (steps - 1) / out.decode_s, "ms_per_token": out.decode_s / (steps - 1) * 1e3,
           "steps": steps, "prefill_s": out.prefill_s, "cuda_graph": gen.use_cuda_graph,
           "fused_groups": gen.fused_groups, "tokens_head": out.tokens[0][:16],
           "memory_gb": torch.cuda.memory_allocated() / 1e9}
    del gen
    torch.cuda.empty_cache()
    return res


def hf_static_tps(model, prompt: torch.Tensor, new_tokens: int, compile_: bool = False) -> dict:
    """tokens/s of ``model.generate`` with ``cache_implementation="static"`` (greedy, fixed length)."""
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                  cache_implementation="static", pad_token_id=0)
    if not compile_:
        kwargs["disable_compile"] = True
    t0 = time.perf_counter()  # warm-up; with compile it must have the same cache shape (no recompilation)
    model.generate(prompt, **(kwargs if compile_ else {**kwargs, "max_new_tokens": 4, "min_new_tokens": 4}))
    torch.cuda.synchronize()
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = model.generate(prompt, **kwargs)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    n = out.shape[1] - prompt.shape[1]
    return {"tokens_per_s": n / dt, "tokens": int(n), "seconds": dt, "torch_compile": compile_,
            "warmup_s": warmup_s}


def hf_compiled_reference(log: Callable[[str], None], prompt_len: int = 32, hf_tokens: int = 128) -> dict:
    """transformers' static cache with its automatic torch.compile, bf16 7B, batch 1 (a fresh model)."""
    from roboos.brain.quant.archs import build_model

    try:
        model = build_model("7b", torch.bfloat16, "cuda")
        ids = torch.randint(0, 1000, (1, prompt_len), device="cuda")
        res = hf_static_tps(model, ids, hf_tokens, compile_=True)
    except Exception as exc:
        res = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    log(f"e2e hf_static_bf16_compiled: {res}")
    return res


def run_e2e(log: Callable[[str], None], new_tokens: int = 256, prompt_len: int = 32, hf_tokens: int = 64,
            hf_compile: bool = False) -> dict:
    """The whole end-to-end comparison; each stage's failure is recorded, not fatal."""
    from roboos.brain.quant.archs import build_model
    from roboos.brain.quant.quantize import quantize, set_reference_mode

    res: dict = {"arch": "RoboBrain2.0-7B (Qwen2.5-VL-7B), random init", "batch": 1, "prompt_len": prompt_len,
                 "new_tokens": new_tokens}
    t0 = time.perf_counter()
    model = build_model("7b", torch.bfloat16, "cuda")
    res["build_s"] = time.perf_counter() - t0
    gen = torch.Generator(device="cuda").manual_seed(1)
    ids = torch.randint(0, model.config.text_config.vocab_size, (1, prompt_len + 1), device="cuda", generator=gen)
    prompt = ids[:, :prompt_len]
    ref = logits_pair(model, ids)

    def stage(name: str, fn: Callable[[], dict]) -> None:
        try:
            res[name] = fn()
            log(f"e2e {name}: {res[name]}")
        except Exception as exc:  # record and go on: the other figures still matter
            res[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            log(f"e2e {name} FAILED: {res[name]['error']}")

    stage("hf_static_bf16", lambda: hf_static_tps(model, prompt, hf_tokens, hf_compile))
    stage("fast_bf16", lambda: fast_decode_tps(model, prompt, new_tokens))
    t0 = time.perf_counter()
    quantize(model)
    torch.cuda.synchronize()
    res["quantize_s"] = time.perf_counter() - t0
    res["memory_gb_after_quantize"] = torch.cuda.memory_allocated() / 1e9
    w8 = logits_pair(model, ids)
    set_reference_mode(model, "model")
    deq = logits_pair(model, ids)
    set_reference_mode(model, "fp32")
    deq32 = logits_pair(model, ids)
    set_reference_mode(model, None)
    res["logits"] = {
        "w8a16_vs_bf16_same_weights": compare(w8, deq),          # the criterion
        "w8a16_vs_fp32_linear_same_weights": compare(w8, deq32),  # kernel fidelity (same math, fp32)
        "bf16_vs_fp32_linear_same_weights": compare(deq, deq32),  # the bf16 model's own noise floor
        "w8a16_vs_bf16_original_weights": compare(w8, ref),      # quantization error included
    }
    for name, value in res["logits"].items():
        log(f"e2e logits {name}: {value}")
    stage("fast_w8a16", lambda: fast_decode_tps(model, prompt, new_tokens))
    if "tokens_per_s" in res.get("fast_w8a16", {}) and "tokens_per_s" in res.get("fast_bf16", {}):
        res["speedup_w8a16_vs_bf16"] = res["fast_w8a16"]["tokens_per_s"] / res["fast_bf16"]["tokens_per_s"]
    del model
    torch.cuda.empty_cache()
    return res
