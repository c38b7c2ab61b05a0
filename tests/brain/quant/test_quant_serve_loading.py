"""The brain server's loader takes a W8A16 compressed-tensors checkpoint (int8 kept) and `--quant w8a16`."""

from __future__ import annotations

import torch

from roboos.brain.quant.module import W8A16Linear


def test_load_brain_reads_w8a16_checkpoint(tmp_path):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from roboos.brain.quant.checkpoint import save_quantized
    from roboos.brain.quant.quantize import quantize
    from roboos.brain.robobrain.loader import load_brain
    from roboos.brain.robobrain.tiny import make_tiny_robobrain

    folder = make_tiny_robobrain(tmp_path / "tiny")
    model = quantize(Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32))
    save_quantized(model, folder)
    brain = load_brain(str(folder), device="cpu", dtype="float32", progress=False)
    swapped = [m for m in brain.model.modules() if isinstance(m, W8A16Linear)]
    assert len(swapped) == len(model.w8a16["modules"]) > 0
    ref = dict(model.named_buffers())
    for name, buf in brain.model.named_buffers():
        if name.endswith(".weight") and buf.dtype == torch.int8:
            assert torch.equal(buf, ref[name])
    again = load_brain(str(folder), device="cpu", dtype="float32", quant="w8a16", progress=False)
    assert again.model.w8a16["modules"] == brain.model.w8a16["modules"]  # nothing quantized twice
    assert getattr(again.model.config, "roboos_thinking", None) is True
