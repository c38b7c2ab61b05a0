"""Fused π0 expert-kernel checks, run in a subprocess with ``TRITON_INTERPRET=1`` set before Triton is imported
(``test_pi0_expert_triton.py`` calls :func:`main` through ``python -c``). Prints one JSON line. Covers both
the pre-normed kernels (default) and the norm-in-prologue ones.

fp16 operands here: the interpreter's bf16 conversion rounds coarsely, fp16 shows the kernels' own error."""

from __future__ import annotations


def _rel(a, b) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def _kernel_cases() -> dict:
    import torch
    import torch.nn.functional as F
    from roboos.brain.policies.pi0 import expert_triton as et
    from roboos.brain.policies.pi0.layers import apply_rope, rope_cos_sin

    gen = torch.Generator().manual_seed(0)
    b, t, w, d, nq, f, c, eps = 2, 7, 64, 32, 2, 128, 9, 1e-6
    dt = torch.float16
    h = torch.randn(b * t, w, generator=gen) * 3
    nw = torch.randn(w, generator=gen) * 0.1
    hn = (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * (1 + nw)).double()
    pos = torch.arange(t)[None].expand(b, t) + torch.tensor([[3], [5]])
    cos, sin = rope_cos_sin(pos, d, 10000.0, torch.float32)
    out = {}
    # q / k / v with rotary; buffers poisoned with NaN, the prefix rows must stay untouched
    wq = (torch.randn(nq * d + 2 * d, w, generator=gen) / 8).to(dt)
    q = torch.full((b * t, nq * d), float("nan"), dtype=dt)
    kb = torch.full((b, 1, c + t, d), float("nan"), dtype=dt)
    vb = kb.clone()
    et.norm_qkv_rope(h, nw, wq, cos.reshape(-1, d).contiguous(), sin.reshape(-1, d).contiguous(), q, kb, vb,
                     t, c, d, eps, et.Tiles(8, 32))
    qr, kr, vr = (hn @ wq.double().T).split([nq * d, d, d], -1)
    qr = apply_rope(qr.view(b, t, nq, d), cos.double(), sin.double()).reshape(b * t, -1)
    kr = apply_rope(kr.view(b, t, 1, d), cos.double(), sin.double()).reshape(b, t, d)
    out["qkv"] = {"q": _rel(q, qr), "k": _rel(kb[:, 0, c:], kr), "v": _rel(vb[:, 0, c:], vr.view(b, t, d)),
                  "prefix_untouched": bool(torch.isnan(kb[:, :, :c].float()).all()),
                  "finite": bool(torch.isfinite(q).all() and torch.isfinite(kb[:, :, c:]).all())}
    wg = (torch.randn(2 * f, w, generator=gen) / 8).to(dt)
    act = torch.full((b * t, f), float("nan"), dtype=dt)
    et.norm_gate_up_gelu(h, nw, wg, act, eps, et.Tiles(16, 32))
    g, u = (hn @ wg.double().T).chunk(2, -1)
    out["gate_up"] = {"rel_err": _rel(act, F.gelu(g, approximate="tanh") * u), "finite": bool(torch.isfinite(act).all())}
    for split in (1, 2):
        x = torch.randn(b * t, f, generator=gen).to(dt)
        wd = (torch.randn(w, f, generator=gen) / 8).to(dt)
        hh = h.clone()
        et.gemm_residual(x, wd, hh, et.Tiles(16, 32, split))
        out[f"residual_split{split}"] = {"rel_err": _rel(hh, h.double() + x.double() @ wd.double().T)}
    out.update(_prenormed_cases(h, nw, hn, wq, wg, cos, sin, (b, t, w, d, nq, f, c, eps), gen))
    return out


def _prenormed_cases(h, nw, hn, wq, wg, cos, sin, dims, gen) -> dict:
    """The pre-normed path: rms_prep, GEMM+residual writing the next norm's inputs (split-K counters reused
    over two launches), and q/k/v / gate-up from bf16 ``h·(1 + w)`` plus row-sum partials."""
    import torch
    import torch.nn.functional as F
    from roboos.brain.policies.pi0 import expert_triton as et
    from roboos.brain.policies.pi0.layers import apply_rope

    b, t, w, d, nq, f, c, eps = dims
    dt, m = wq.dtype, b * t
    out = {}
    xn = torch.full((m, w), float("nan"), dtype=dt)
    ss1 = torch.full((m, 1), float("nan"))
    et.rms_prep(h, et.NormOut(nw, xn, ss1))
    out["prep"] = {"x": _rel(xn, h.double() * (1 + nw.double())), "ss": _rel(ss1[:, 0], h.double().pow(2).sum(-1))}
    ref = h.double() * (1 + nw.double())
    ss4 = h.pow(2).view(m, 4, w // 4).sum(-1).contiguous()  # four partials per row, as a residual kernel writes
    q = torch.full((m, nq * d), float("nan"), dtype=dt)
    kb = torch.full((b, 1, c + t, d), float("nan"), dtype=dt)
    vb = kb.clone()
    et.qkv_rope(ref.to(dt), ss4, wq, cos.reshape(-1, d).contiguous(), sin.reshape(-1, d).contiguous(), q, kb, vb,
                t, c, d, eps, et.Tiles(8, 32))
    qr, kr, vr = (hn @ wq.double().T).split([nq * d, d, d], -1)
    qr = apply_rope(qr.view(b, t, nq, d), cos.double(), sin.double()).reshape(m, -1)
    kr = apply_rope(kr.view(b, t, 1, d), cos.double(), sin.double()).reshape(b, t, d)
    out["qkv_pre"] = {"q": _rel(q, qr), "k": _rel(kb[:, 0, c:], kr), "v": _rel(vb[:, 0, c:], vr.view(b, t, d)),
                      "prefix_untouched": bool(torch.isnan(kb[:, :, :c].float()).all()),
                      "finite": bool(torch.isfinite(q).all() and torch.isfinite(kb[:, :, c:]).all())}
    act = torch.full((m, f), float("nan"), dtype=dt)
    et.gate_up_gelu(ref.to(dt), ss1, wg, act, eps, et.Tiles(16, 32))
    g, u = (hn @ wg.double().T).chunk(2, -1)
    out["gate_up_pre"] = {"rel_err": _rel(act, F.gelu(g, approximate="tanh") * u),
                          "finite": bool(torch.isfinite(act).all())}
    counters = torch.zeros(64, dtype=torch.int32)
    for split in (1, 2):
        errs = []
        for _ in range(2):  # the second launch reuses the counters the first one reset
            x = torch.randn(m, f, generator=gen).to(dt)
            wd = (torch.randn(w, f, generator=gen) / 8).to(dt)
            hh = h.clone()
            xo = torch.full((m, w), float("nan"), dtype=dt)
            sso = torch.full((m, w // 16), float("nan"))
            et.gemm_residual(x, wd, hh, et.Tiles(16, 32, split), norm=et.NormOut(nw, xo, sso, counters))
            hr = h.double() + x.double() @ wd.double().T
            errs += [_rel(hh, hr), _rel(xo, hr * (1 + nw.double())), _rel(sso.sum(-1), hr.pow(2).sum(-1))]
        out[f"residual_norm_split{split}"] = {"rel_err": max(errs), "counters_reset": bool((counters == 0).all())}
    return out


def _model_case() -> dict:
    """The tiny π0 in fp16: fused expert vs the PyTorch layers (math attention)."""
    import torch
    from pi0_attention_interp import tiny_model_and_inputs

    model, x = tiny_model_and_inputs(torch.float16)
    model.fuse()
    model.attention = "math"
    ref = model.sample_actions(**x).double()
    model.attention = "fused"
    from roboos.brain.policies.pi0 import fused_expert

    defaults = fused_expert.PRENORM, fused_expert.ATTENTION, fused_expert.ATTENTION_SPLITS
    try:
        fused_expert.PRENORM, fused_expert.ATTENTION = True, "math"  # residual kernels write the next norm's inputs
        got = model.sample_actions(**x).double()
        joint = model.sample_actions(**x, use_cache=False).double()
        fused_expert.ATTENTION, fused_expert.ATTENTION_SPLITS = "split", 2  # the key-split attention kernel
        split = model.sample_actions(**x).double()
        fused_expert.PRENORM, fused_expert.ATTENTION = False, "math"  # the fourth round's norm-in-prologue kernels
        prologue = model.sample_actions(**x).double()
    finally:
        fused_expert.PRENORM, fused_expert.ATTENTION, fused_expert.ATTENTION_SPLITS = defaults
    return {"rel_err": _rel(got, ref), "rel_err_joint": _rel(joint, ref), "finite": bool(torch.isfinite(got).all()),
            "rel_err_norm_prologue": _rel(prologue, ref), "rel_err_vs_prologue": _rel(got, prologue),
            "rel_err_split_attention": _rel(split, ref), **_w8a16_case(model, x)}


def _w8a16_case(model, x) -> dict:
    """The same model with its expert in W8A16 (int8 weights, per-channel scales): the fused kernels against
    the PyTorch layers on the dequantized weights; the norm-in-prologue path refuses int8 weights."""
    import torch
    from roboos.brain.policies.pi0 import fused_expert
    from roboos.brain.quant.module import W8A16Linear
    from roboos.brain.quant.quantize import quantize

    quantize(model, skip=("re:.*vision.*", "re:vlm\\..*", "projector", "lm_head"))
    quantized = [m for m in model.expert.modules() if isinstance(m, W8A16Linear)]
    for m in quantized:
        m.reference = "model"  # dequantize + F.linear: the 16-bit model on the same weights
    model.attention = "math"
    ref = model.sample_actions(**x).double()
    for m in quantized:
        m.reference = None
    model.attention = "fused"
    got = model.sample_actions(**x).double()
    fused_expert.PRENORM = False
    try:
        model.sample_actions(**x)
        refused = ""
    except ValueError as exc:
        refused = str(exc)
    finally:
        fused_expert.PRENORM = True
    return {"w8a16_layers": len(quantized), "rel_err_w8a16": _rel(got, ref), "w8a16_prologue_refused": refused}


def main() -> None:
    from pi0_attention_interp import interp_main

    interp_main(_kernel_cases, _model_case)


if __name__ == "__main__":
    main()
