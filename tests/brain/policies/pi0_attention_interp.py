"""Fused π0 attention checks, run in a subprocess with ``TRITON_INTERPRET=1`` set before Triton is imported
(``test_pi0_attention_triton.py`` calls :func:`main` through ``python -c``). Prints one JSON line."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable


def _kernel_cases() -> dict:
    import torch
    from roboos.brain.policies.pi0.attention_triton import fused_attention, plan

    out = {}
    gen = torch.Generator().manual_seed(0)
    # (b, kv, tq, tk, d, dtype, broadcast bias over batch, key slices, keys masked off in a whole slice)
    for name, (b, kv, tq, tk, d, dtype, bcast, splits, hole) in {
        "ragged_bf16": (2, 1, 40, 37, 32, torch.bfloat16, False, 1, False),
        "two_kv_heads_fp16": (2, 2, 19, 70, 64, torch.float16, False, 1, False),
        "bias_broadcast": (3, 1, 17, 33, 16, torch.bfloat16, True, 1, False),
        "split2_ragged_bf16": (2, 1, 40, 150, 32, torch.bfloat16, False, 2, False),
        "split3_two_kv_heads_fp16": (2, 2, 19, 200, 64, torch.float16, False, 3, False),
        "split3_masked_slice": (1, 1, 33, 190, 32, torch.bfloat16, True, 3, True),
    }.items():
        q = torch.randn(b, kv, tq, d, generator=gen).to(dtype)
        k = torch.randn(b, kv, tk, d, generator=gen).to(dtype)
        v = torch.randn(b, kv, tk, d, generator=gen).to(dtype)
        mask = torch.rand(1 if bcast else b, 1, tq, tk, generator=gen) > 0.3
        if hole:  # half the rows see only the last keys: whole slices without a key for them
            mask[..., : tq // 2, : tk - 20] = False
        mask[..., -1] = True  # every row keeps one key
        bias = torch.zeros(mask.shape).masked_fill(~mask, float("-inf")).to(dtype)
        ws = plan(b, kv, tq, tk, d, q.device, splits).workspace(d, q.device)
        runs = []
        for _ in range(2):  # the same workspace twice: the counters must come back to zero
            ws.acc.fill_(float("nan"))
            runs.append(fused_attention(q, k, v, bias, splits=splits, workspace=ws))
        got = runs[-1]
        s = q.double() @ k.double().transpose(-1, -2) / math.sqrt(d) + bias.double()
        ref = torch.softmax(s, -1) @ v.double()
        out[name] = {"rel_err": float((got.double() - ref).norm() / ref.norm()),
                     "finite": bool(torch.isfinite(got).all()), "shape_ok": tuple(got.shape) == (b, kv, tq, d),
                     "repeat_equal": bool(torch.equal(runs[0], runs[1])),
                     "counters_clean": bool((ws.counters == 0).all())}
    return out


def tiny_model_and_inputs(dtype):
    """The tiny π0 with N(0, 0.2) weights in ``dtype`` and a padded batch of two (shared with the expert checks)."""
    import torch
    from roboos.brain.policies.pi0.config import preset
    from roboos.brain.policies.pi0.model import Pi0Model

    cfg = preset("tiny")
    torch.manual_seed(0)
    model = Pi0Model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    model = model.to(dtype)
    g = torch.Generator().manual_seed(1)
    b, s = 2, cfg.vision.image_size
    token_masks = torch.ones(b, cfg.max_token_len, dtype=torch.bool)
    token_masks[1, 3:] = False
    x = {"images": torch.rand(b, len(cfg.cameras), 3, s, s, generator=g) * 2 - 1,
         "image_masks": torch.tensor([[True, True], [True, False]]),
         "tokens": torch.randint(0, cfg.vlm.vocab_size, (b, cfg.max_token_len), generator=g),
         "token_masks": token_masks, "state": torch.randn(b, cfg.state_dim, generator=g),
         "noise": torch.randn(b, cfg.chunk_size, cfg.action_dim, generator=g)}
    return model, x


def _model_case() -> dict:
    """The tiny π0 in bf16: fused attention vs matmul + softmax, with the cache and without."""
    import torch

    model, x = tiny_model_and_inputs(torch.bfloat16)
    model.attention = "math"
    ref = model.sample_actions(**x).double()
    model.attention = "triton"
    got = model.sample_actions(**x).double()
    joint = model.sample_actions(**x, use_cache=False).double()
    return {"rel_err": float((got - ref).norm() / ref.norm()), "rel_err_joint": float((joint - ref).norm() / ref.norm()),
            "finite": bool(torch.isfinite(got).all())}


def interp_main(kernel_cases: Callable[[], object], model_case: Callable[[], object]) -> None:
    """Print both case sets as one JSON line; refuses to run outside the Triton interpreter."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        sys.exit("run with TRITON_INTERPRET=1")
    print(json.dumps({"kernel": kernel_cases(), "model": model_case()}))


def main() -> None:
    interp_main(_kernel_cases, _model_case)


if __name__ == "__main__":
    main()
