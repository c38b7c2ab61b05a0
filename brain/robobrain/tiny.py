"""Build a tiny, randomly initialised RoboBrain-shaped checkpoint (Qwen2.5-VL architecture) on disk.

It is a real model folder — config, safetensors weights, a byte-level BPE tokenizer with the Qwen chat
special tokens, an image processor config and a chat template — that :func:`~.loader.load_brain` loads like
the released checkpoints. Tests, demos and other areas (the master's planner tests) use it to drive the
real server offline. Its answers are random text, by construction.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>", "<think>", "</think>", "<answer>", "</answer>",
                  "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

# A Qwen2.5-VL style template (image parts become <|vision_start|><|image_pad|><|vision_end|>).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def default_corpus() -> list[str]:
    """Text the tiny tokenizer learns its merges from: the chat frame, task prompts and tool format."""
    from roboos.brain.robobrain.prompts import TEMPLATES
    from roboos.brain.robobrain.tools import tools_system_text

    texts = [t.format(text="the red cup") for t in TEMPLATES.values()]
    texts.append(tools_system_text([{"type": "function", "function": {"name": "move_to", "parameters": {}}}]))
    texts.append("You are a helpful assistant. system user assistant answer think plan robot kitchen table")
    return texts * 4


def build_tokenizer(corpus: list[str] | None = None, vocab_size: int = 1024):
    """A byte-level BPE tokenizer with merges learned from ``corpus`` (all bytes stay encodable)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(corpus if corpus is not None else default_corpus(), trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  additional_special_tokens=SPECIAL_TOKENS[1:])
    tok.chat_template = CHAT_TEMPLATE
    return tok


def make_tiny_robobrain(folder: str | Path, *, thinking: bool = True, seed: int = 0, hidden: int = 64,
                        layers: int = 2, corpus: list[str] | None = None) -> Path:
    """Write a tiny Qwen2.5-VL checkpoint to ``folder`` and return its path.

    ``thinking`` sets the ``roboos_thinking`` config flag (as a 7B/32B RoboBrain would behave).
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(corpus)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab = len(tok)
    heads = max(2, hidden // 16)
    half = hidden // heads // 2
    mrope = [half - 2 * (3 * half // 8), 3 * half // 8, 3 * half // 8]  # t/h/w split, as 16/24/24 of the 7B
    config = Qwen2_5_VLConfig(
        text_config={"hidden_size": hidden, "intermediate_size": hidden * 2, "num_hidden_layers": layers,
                         "num_attention_heads": heads, "num_key_value_heads": heads // 2, "vocab_size": vocab,
                         "max_position_embeddings": 4096, "tie_word_embeddings": False,
                         "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": mrope},
                         "bos_token_id": None, "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]},
        vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": hidden,
                           "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
                           "fullatt_block_indexes": [0]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False)
    config.roboos_thinking = thinking
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64).save_pretrained(folder)
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return folder
