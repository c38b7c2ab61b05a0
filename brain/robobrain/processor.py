"""A small image+text processor for Qwen2.5-VL checkpoints (RoboBrain 2.0).

It does what the processor of ``transformers`` does for images — template rendering, image patching through
the checkpoint's image processor, expanding each ``<|image_pad|>`` into one token per merged patch, left
padding — without the video processor (which needs torchvision), so it loads on lean installs too.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import torch
from PIL import Image

IMAGE_PAD = "<|image_pad|>"


class BrainProcessor:
    """Tokenizer + image processor + chat template of one checkpoint."""

    def __init__(self, tokenizer, image_processor, chat_template: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.chat_template = chat_template or getattr(tokenizer, "chat_template", None)
        if not self.chat_template:
            raise ValueError("the checkpoint has no chat template")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        merge = getattr(image_processor, "merge_size", 2)
        self.merge_area = int(merge) ** 2
        self.image_pad_id = self.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        # fast tokenizers change padding state per call and refuse concurrent use ("Already borrowed")
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, source: str, **kwargs) -> BrainProcessor:
        """Load tokenizer, image processor and chat template from a local folder or hub id."""
        from transformers import AutoImageProcessor, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        image_processor = AutoImageProcessor.from_pretrained(source, **kwargs)
        return cls(tokenizer, image_processor, _template_file(source) or None)

    def apply_chat_template(self, messages: list[dict], tokenize: bool = False, add_generation_prompt: bool = True) -> str:
        """Render messages (content parts ``{"type": "image"}`` / ``{"type": "text"}``) to prompt text."""
        with self._lock:
            return self.tokenizer.apply_chat_template(messages, chat_template=self.chat_template, tokenize=tokenize,
                                                      add_generation_prompt=add_generation_prompt)

    def __call__(self, texts: list[str], images: list[list[Image.Image]] | None = None) -> dict:
        """Batch-encode prompts (left padded); ``images[i]`` are the images of ``texts[i]`` in order."""
        with self._lock:
            return self._encode(texts, images)

    def _encode(self, texts: list[str], images: list[list[Image.Image]] | None) -> dict:
        images = images or [[] for _ in texts]
        flat = [img for row in images for img in row]
        out: dict = {}
        expanded = list(texts)
        if flat:
            vision = self.image_processor(images=flat, return_tensors="pt")
            grids = vision["image_grid_thw"]
            counts = (grids.prod(-1) // self.merge_area).tolist()
            k = 0
            for i, (text, row) in enumerate(zip(texts, images)):
                if text.count(IMAGE_PAD) != len(row):
                    raise ValueError(f"prompt {i} has {text.count(IMAGE_PAD)} image slots for {len(row)} images")
                pieces = text.split(IMAGE_PAD)
                rebuilt = pieces[0]
                for piece in pieces[1:]:
                    rebuilt += IMAGE_PAD * counts[k] + piece
                    k += 1
                expanded[i] = rebuilt
            out["pixel_values"] = vision["pixel_values"]
            out["image_grid_thw"] = grids
        enc = self.tokenizer(expanded, padding=True, return_tensors="pt", add_special_tokens=False)
        out["input_ids"] = enc["input_ids"]
        out["attention_mask"] = enc["attention_mask"]
        if flat:  # modality of each token (1 = image), which newer transformers use for M-RoPE positions
            out["mm_token_type_ids"] = (enc["input_ids"] == self.image_pad_id).to(torch.int32)
        return out

    def input_sizes(self, grid_thw: torch.Tensor) -> list[tuple[int, int]]:
        """(width, height) in pixels of each image as the model saw it (after resizing)."""
        patch = int(getattr(self.image_processor, "patch_size", 14))
        return [(int(w) * patch, int(h) * patch) for _t, h, w in grid_thw.tolist()]

    def decode(self, ids: list[int]) -> str:
        with self._lock:
            return self.tokenizer.decode(ids, skip_special_tokens=False)


def _template_file(source: str) -> str:
    """A processor-level chat template shipped beside the weights (``chat_template.json`` / ``.jinja``)."""
    folder = Path(source)
    if not folder.is_dir():
        return ""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    js = folder / "chat_template.json"
    if js.is_file():
        data = json.loads(js.read_text())
        return data.get("chat_template", "") if isinstance(data, dict) else ""
    return ""
