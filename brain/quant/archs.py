"""Model configurations the W8A16 code is tuned, benchmarked and tested on (built offline from config
objects; weights are random): the RoboBrain 2.0 7B architecture (= Qwen2.5-VL-7B) and a tiny variant."""

from __future__ import annotations


def robobrain_config(size: str = "7b"):
    """``Qwen2_5_VLConfig`` of RoboBrain 2.0 ``"7b"`` or a ``"tiny"`` one for CPU tests."""
    from transformers import Qwen2_5_VLConfig

    if size == "7b":
        text = dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                    num_key_value_heads=4, vocab_size=152064, max_position_embeddings=128000,
                    bos_token_id=151643, eos_token_id=151645)
        vision = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                      fullatt_block_indexes=[7, 15, 23, 31], window_size=112)
        mrope = [16, 24, 24]
    elif size == "tiny":
        text = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, vocab_size=320, max_position_embeddings=512,
                    bos_token_id=1, eos_token_id=2)
        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                      fullatt_block_indexes=[1], window_size=112)
        mrope = [2, 3, 3]
    else:
        raise ValueError(f"unknown size {size!r} (7b, tiny)")
    text.update(hidden_act="silu", rms_norm_eps=1e-6, tie_word_embeddings=False,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": mrope})
    ids = {k: text[k] for k in ("bos_token_id", "eos_token_id")}
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **ids)


def build_model(size: str = "7b", dtype=None, device: str = "cpu", seed: int = 0):
    """A randomly initialised ``Qwen2_5_VLForConditionalGeneration`` of ``size`` in eval mode."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(robobrain_config(size),
                                                                dtype=dtype or torch.bfloat16)
    return model.eval()
