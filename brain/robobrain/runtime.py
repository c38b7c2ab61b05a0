"""Batched generation for a loaded RoboBrain: prompts in, text (reasoning + content) out, with streaming.

The fast engine (:class:`roboos.brain.engine.FastGenerator`) serves every model it supports; others fall
back to ``model.generate``. Per-request limits (max tokens, stop strings) are applied per row of a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from roboos.brain.engine import EngineCapacityError, FastGenerator, SamplingParams, UnsupportedModelError
from roboos.brain.robobrain.chat import PreparedPrompt
from roboos.brain.robobrain.loader import LoadedBrain
from roboos.brain.robobrain.thinking import ThinkingStreamSplitter, split_thinking


class PromptTooLongError(ValueError):
    """The prompt plus the requested tokens do not fit the server's context length."""

    code = "prompt_too_long"


@dataclass
class GenerationRequest:
    """One prompt and how to continue it."""

    prompt: PreparedPrompt
    max_new_tokens: int = 512
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop: tuple[str, ...] = ()


@dataclass
class GenerationResult:
    """Decoded output: ``reasoning`` (thinking block) and ``content`` (answer) separated."""

    text: str
    reasoning: str
    content: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


# on_delta(row, reasoning_delta, content_delta); cancelled(row) -> bool
DeltaCallback = Callable[[int, str, str], None]


class _Row:
    """Incremental decoding state of one request in a batch."""

    def __init__(self, req: GenerationRequest, prompt_tokens: int) -> None:
        self.req = req
        self.prompt_tokens = prompt_tokens
        self.tokens: list[int] = []
        self.text = ""
        self.finish: str | None = None
        self.splitter = ThinkingStreamSplitter(in_thinking=req.prompt.in_thinking)

    def cut_at_stop(self) -> bool:
        for stop in self.req.stop:
            idx = self.text.find(stop)
            if idx >= 0:
                self.text = self.text[:idx]
                return True
        return False


class BrainRuntime:
    """Owns the model's generation path; ``run_batch`` is called from one worker thread at a time."""

    def __init__(self, brain: LoadedBrain, *, max_seq_len: int = 8192, max_batch_size: int = 8,
                 use_engine: bool = True, use_cuda_graph: bool | None = None) -> None:
        self.brain = brain
        self.max_seq_len = max_seq_len
        self.max_batch_size = max_batch_size
        self.engine: FastGenerator | None = None
        self.engine_error: str | None = None
        if use_engine:
            try:
                self.engine = FastGenerator(brain.model, max_seq_len=max_seq_len, max_batch_size=max_batch_size,
                                            use_cuda_graph=use_cuda_graph)
            except UnsupportedModelError as exc:
                self.engine_error = str(exc)
        self._lock = threading.Lock()

    @property
    def backend_name(self) -> str:
        return "fast-engine" if self.engine is not None else "transformers-generate"

    def encode(self, prompts: Sequence[PreparedPrompt]) -> dict:
        """Tokenize a batch (left padded) with its images, on the model's device."""
        batch = self.brain.processor([p.text for p in prompts], [p.images for p in prompts])
        return {k: v.to(self.brain.device) for k, v in batch.items()}

    def count_tokens(self, prompt: PreparedPrompt) -> int:
        return int(self.brain.processor([prompt.text], [prompt.images])["input_ids"].shape[1])

    def run_batch(self, requests: Sequence[GenerationRequest], on_delta: DeltaCallback | None = None,
                  cancelled: Callable[[int], bool] | None = None) -> list[GenerationResult]:
        """Generate for all ``requests`` together; streams deltas through ``on_delta`` when given."""
        if not requests:
            return []
        if len(requests) > self.max_batch_size:
            raise ValueError(f"batch of {len(requests)} exceeds max_batch_size {self.max_batch_size}")
        with self._lock, torch.inference_mode():
            inputs = self.encode([r.prompt for r in requests])
            ids, mask = inputs.pop("input_ids"), inputs.pop("attention_mask")
            budget = max(r.max_new_tokens for r in requests)
            if ids.shape[1] + budget > self.max_seq_len:
                raise PromptTooLongError(
                    f"prompt of {ids.shape[1]} tokens + max_tokens {budget} exceeds the context of {self.max_seq_len}")
            rows = [_Row(r, int(m.sum())) for r, m in zip(requests, mask)]
            if self.engine is not None:
                self._run_engine(rows, ids, mask, inputs, budget, on_delta, cancelled)
            else:
                self._run_hf(rows, ids, mask, inputs, budget, on_delta)
        return [self._result(row) for row in rows]

    # ------------------------------------------------------------------------------------------ paths
    def _run_engine(self, rows: list[_Row], ids, mask, inputs, budget: int, on_delta, cancelled) -> None:
        assert self.engine is not None
        try:
            stream = self.engine.stream(ids, mask, max_new_tokens=budget, sampling=[r.req.sampling for r in rows],
                                        stop_token_ids=self.brain.stop_token_ids, model_inputs=inputs or None)
            for item in stream:
                if not isinstance(item, list):
                    break
                for b, tok in enumerate(item):
                    row = rows[b]
                    if row.finish is not None:
                        continue
                    if tok is None or tok in self.brain.stop_token_ids:
                        row.finish = "stop"
                        continue
                    self._advance(row, b, tok, on_delta)
                    if row.finish is None and cancelled is not None and cancelled(b):
                        row.finish = "cancelled"
                if all(r.finish is not None for r in rows):
                    stream.close()
                    break
        except EngineCapacityError as exc:
            raise PromptTooLongError(str(exc)) from exc
        for b, row in enumerate(rows):
            if row.finish is None:
                row.finish = "length"
            self._flush(row, b, on_delta)

    def _run_hf(self, rows: list[_Row], ids, mask, inputs, budget: int, on_delta) -> None:
        sampling = rows[0].req.sampling
        kwargs = {"do_sample": not sampling.greedy, "max_new_tokens": budget, "pad_token_id": self.brain.stop_token_ids[0],
                      "eos_token_id": self.brain.stop_token_ids}
        if not sampling.greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k or None)
        out = self.brain.model.generate(input_ids=ids, attention_mask=mask, **inputs, **kwargs)[:, ids.shape[1]:]
        for b, (row, seq) in enumerate(zip(rows, out.tolist())):
            for tok in seq:
                if tok in self.brain.stop_token_ids:
                    row.finish = "stop"
                    break
                self._advance(row, b, tok, on_delta)
                if row.finish is not None:
                    break
            row.finish = row.finish or "length"
            self._flush(row, b, on_delta)

    # -------------------------------------------------------------------------------------- decoding
    def _advance(self, row: _Row, b: int, tok: int, on_delta) -> None:
        row.tokens.append(int(tok))
        at_limit = len(row.tokens) >= row.req.max_new_tokens
        text = self.brain.processor.decode(row.tokens)
        if text.endswith("\ufffd") and not at_limit:  # an incomplete UTF-8 sequence: wait for the next token
            return
        previous = row.text
        row.text = text
        if row.cut_at_stop():
            row.finish = "stop"
        if at_limit and row.finish is None:
            row.finish = "length"
        delta = row.text[len(previous):] if row.text.startswith(previous) else ""
        if on_delta is not None and delta:
            reasoning, content = row.splitter.feed(delta)
            if reasoning or content:
                on_delta(b, reasoning, content)

    def _flush(self, row: _Row, b: int, on_delta) -> None:
        if on_delta is None:
            return
        reasoning, content = row.splitter.flush()
        if reasoning or content:
            on_delta(b, reasoning, content)

    def _result(self, row: _Row) -> GenerationResult:
        prefix = "<think>" if row.req.prompt.in_thinking else ""
        reasoning, content, _complete = split_thinking(prefix + row.text)
        finish = "stop" if row.finish == "cancelled" else row.finish or "length"
        return GenerationResult(row.text, reasoning, content, finish, row.prompt_tokens, len(row.tokens))
