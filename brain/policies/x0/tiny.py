"""Write a tiny, randomly initialised RoboBrain-X0 checkpoint folder (offline).

It has every file a real X0 checkpoint has — Qwen2.5-VL weights and config, a tokenizer with the chat
special tokens, ``<boa>``/``<eoa>`` and one token per FAST id, an image-processor config, a FAST
tokenizer fitted on synthetic smooth trajectories, min-max action stats and ``x0_config.json`` — with
a 2-layer, width-32 model. Tests and demos use it; its actions are meaningless.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from roboos.brain.policies.fast import FastTokenizer
from roboos.brain.policies.x0.decoder import X0Config

_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<boa>",
    "<eoa>",
]
_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _fast(horizon: int, dim: int, seed: int) -> FastTokenizer:
    rng = np.random.default_rng(seed)
    chunks = [np.cumsum(rng.normal(0, 0.03, (horizon, dim)), axis=0) for _ in range(64)]
    return FastTokenizer.train(chunks, vocab_size=256)


def build_tiny_x0(folder: str | Path, embodiment: str = "single_arm", seed: int = 0) -> Path:
    """Create the folder and return its path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    dim = 7 if embodiment == "single_arm" else 14
    cams = (
        ("cam_high", "cam_wrist")
        if embodiment == "single_arm"
        else ("cam_high", "cam_right_wrist", "cam_left_wrist")
    )
    fast = _fast(30, dim, seed)
    fast.save(root / "fast")

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    bpe = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(sorted(alphabet))}, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.add_special_tokens(_SPECIALS + [f"<act_{i}>" for i in range(fast.vocab_size)])
    ids = {t: bpe.token_to_id(t) for t in _SPECIALS}
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = _TEMPLATE
    tok.save_pretrained(str(root))

    Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112).save_pretrained(str(root))

    vocab = bpe.get_vocab_size()
    cfg = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=4096,
            rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
            bos_token_id=None,
        ),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=32,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=56,
            fullatt_block_indexes=[1],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    Qwen2_5_VLForConditionalGeneration(cfg).save_pretrained(str(root))

    x0 = X0Config(
        embodiment=embodiment,
        boa_id=ids["<boa>"],
        eoa_id=ids["<eoa>"],
        action_token_offset=bpe.token_to_id("<act_0>"),
        action_token_count=fast.vocab_size,
        cameras=cams,
        max_subtask_tokens=4,
        max_action_tokens=16,
    )
    (root / "x0_config.json").write_text(json.dumps(x0.to_dict(), indent=2))
    stats = {"action.eepose": {"scale_": [20.0] * dim, "offset_": [0.0] * dim}}
    (root / "action_stats.json").write_text(json.dumps(stats))
    return root
