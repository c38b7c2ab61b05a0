"""RoboBrain-X0 as a :class:`~roboos.brain.policies.base.Policy`: images + instruction + EE pose → subtask
and a 30-step end-effector pose chunk.

A checkpoint folder holds the Qwen2.5-VL weights and processor files (as published), a FAST tokenizer
folder (``fast/``), ``action_stats.json`` (min-max stats) and optionally ``x0_config.json``.
Generation is greedy and constrained so the output always parses: after ``max_subtask_tokens`` the
``<boa>`` token is forced, after ``<boa>`` only action tokens or ``<eoa>`` may follow, and ``<eoa>`` is
forced after ``max_action_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from roboos.brain.policies.base import ObservationError, Policy
from roboos.brain.policies.fast import FastTokenizer
from roboos.brain.policies.observation import parse_observation
from roboos.brain.policies.x0.decoder import MinMaxStats, X0Config, X0Decoder


@dataclass
class X0Input:
    images: list[Image.Image]
    text: str
    pose: np.ndarray


class ActionGrammar:
    """Logits processor enforcing ``subtask <boa> action* <eoa>`` (see the module docstring)."""

    def __init__(self, config: X0Config, prompt_len: int, vocab: int, eos_id: int | None):
        c = config
        self.c, self.prompt_len = c, prompt_len
        allowed = torch.zeros(vocab, dtype=torch.bool)
        allowed[c.action_token_offset : c.action_token_offset + c.action_token_count] = True
        allowed[c.eoa_id] = True
        self.after_boa = allowed
        self.eos_id = eos_id

    def _force(self, scores: torch.Tensor, row: int, token: int) -> None:
        scores[row] = float("-inf")
        scores[row, token] = 0.0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        c = self.c
        generated = input_ids[:, self.prompt_len :]
        for row in range(generated.shape[0]):
            seq = generated[row].tolist()
            if c.eoa_id in seq:
                if self.eos_id is not None:
                    self._force(scores, row, self.eos_id)
                continue
            if c.boa_id not in seq:
                if len(seq) >= c.max_subtask_tokens:
                    self._force(scores, row, c.boa_id)
                else:
                    scores[row, c.eoa_id] = float("-inf")
                    scores[row, c.action_token_offset : c.action_token_offset + c.action_token_count] = float(
                        "-inf"
                    )
                continue
            n_actions = len(seq) - seq.index(c.boa_id) - 1
            if n_actions >= c.max_action_tokens:
                self._force(scores, row, c.eoa_id)
            else:
                scores[row, ~self.after_boa.to(scores.device)[: scores.shape[1]]] = float("-inf")
        return scores


def _image_processor(folder: Path):
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
    except ImportError:  # torchvision-backed processor unavailable: use the PIL backend
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        return Qwen2VLImageProcessorPil.from_pretrained(str(folder), local_files_only=True)


class X0Policy(Policy):
    """Qwen2.5-VL generation + FAST decoding + pose integration."""

    name = "x0"

    def __init__(self, model: torch.nn.Module, processor: Any, decoder: X0Decoder, *, max_batch: int = 4):
        self.model = model.eval()
        self.processor = processor
        self.decoder = decoder
        self.config = decoder.config
        self.device = next(model.parameters()).device
        self._max_batch = max_batch

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, *, device: str = "cpu", dtype: str = "auto", **kwargs: Any
    ) -> X0Policy:
        from roboos.brain.robobrain.processor import BrainProcessor
        from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: X0 checkpoint folder not found")
        cfg = (
            X0Config.from_file(root / "x0_config.json") if (root / "x0_config.json").is_file() else X0Config()
        )
        stats_file = root / "action_stats.json"
        stats = MinMaxStats.from_file(stats_file, cfg.stats_key) if stats_file.is_file() else None
        fast = FastTokenizer.from_dir(root / cfg.fast_dir)
        torch_dtype = (
            torch.bfloat16
            if dtype == "auto" and device.startswith("cuda")
            else (torch.float32 if dtype in ("auto", "fp32", "float32") else torch.bfloat16)
        )
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            str(root), dtype=torch_dtype, local_files_only=True
        ).to(device)
        tokenizer = AutoTokenizer.from_pretrained(str(root), local_files_only=True)
        processor = BrainProcessor(tokenizer, _image_processor(root))
        return cls(model, processor, X0Decoder(cfg, fast, stats), **kwargs)

    def metadata(self) -> dict[str, Any]:
        c = self.config
        return {
            "policy": self.name,
            "cameras": list(c.cameras),
            "required_cameras": list(c.cameras),
            "embodiment": c.embodiment,
            "state_dim": c.action_dim,
            "action_dim": c.action_dim,
            "action_horizon": c.horizon,
            "control_rate_hz": c.control_rate_hz,
            "actions": "absolute end-effector poses (xyz, euler xyz, gripper) per arm",
            "device": str(self.device),
        }

    @property
    def max_batch_size(self) -> int:
        return self._max_batch

    def prepare(self, obs: dict[str, Any]) -> X0Input:
        c = self.config
        parsed = parse_observation(obs, c.cameras, c.cameras, c.action_dim)
        if parsed.state.shape[0] != c.action_dim:
            raise ObservationError(
                f"'state' must be the current end-effector pose with {c.action_dim} values "
                f"({c.embodiment}), got {parsed.state.shape[0]}"
            )
        if not parsed.prompt.strip():
            raise ObservationError("'prompt' (the task instruction) is empty")
        marker = "\x00"  # where the camera images go: the template's {cameras} field
        text = c.prompt_template.format(
            arms=c.embodiment.replace("_", " "),
            rate=c.control_rate_hz,
            horizon=c.horizon,
            dim=c.action_dim,
            cameras=marker,
            task=parsed.prompt.strip().lower(),
        )
        head, found, tail = text.partition(marker)
        content: list[dict[str, Any]] = [{"type": "text", "text": head}]
        for i, cam in enumerate(c.cameras):
            content += [{"type": "text", "text": f"{', ' if i else ''}{cam} "}, {"type": "image"}]
        if found:
            content.append({"type": "text", "text": tail})
        rendered = self.processor.apply_chat_template([{"role": "user", "content": content}])
        images = [Image.fromarray(parsed.images[cam]) for cam in c.cameras]
        return X0Input(images, rendered, parsed.state.astype(np.float64))

    @torch.no_grad()
    def infer_batch(self, prepared: list[X0Input]) -> list[dict[str, Any]]:
        from transformers import LogitsProcessorList

        inputs = self.processor([p.text for p in prepared], [p.images for p in prepared])
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        prompt_len = inputs["input_ids"].shape[1]
        tok = self.processor.tokenizer
        eos = tok.convert_tokens_to_ids("<|im_end|>")
        eos = eos if isinstance(eos, int) and eos >= 0 else tok.eos_token_id
        vocab = self.model.get_input_embeddings().weight.shape[0]
        grammar = ActionGrammar(self.config, prompt_len, vocab, eos)
        limit = self.config.max_subtask_tokens + self.config.max_action_tokens + 3
        out = self.model.generate(
            **inputs,
            max_new_tokens=limit,
            do_sample=False,
            logits_processor=LogitsProcessorList([grammar]),
            eos_token_id=eos,
            pad_token_id=tok.pad_token_id,
        )
        results = []
        for row, item in zip(out[:, prompt_len:].tolist(), prepared, strict=True):
            boa = self.config.boa_id
            subtask_ids = row[: row.index(boa)] if boa in row else []
            text = tok.decode(subtask_ids, skip_special_tokens=True).strip()
            decoded = self.decoder.decode(row, item.pose, text)
            results.append(
                {
                    "actions": decoded.poses.astype(np.float32),
                    "delta_actions": decoded.deltas.astype(np.float32),
                    "subtask": decoded.subtask,
                    "num_action_tokens": len(decoded.action_ids),
                    "notes": decoded.notes,
                }
            )
        return results
