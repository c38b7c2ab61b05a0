"""The in-process backend: RoboBrain through transformers + the fast engine, behind the batcher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from roboos.brain.engine import SamplingParams
from roboos.brain.robobrain.chat import PreparedPrompt, build_prompt
from roboos.brain.robobrain.images import ImageLimits
from roboos.brain.robobrain.loader import LoadedBrain
from roboos.brain.robobrain.runtime import (
    BrainRuntime,
    GenerationRequest,
    GenerationResult,
    PromptTooLongError,
)
from roboos.brain.server import openai_format as fmt
from roboos.brain.server.batcher import Batcher, Job, RequestTimeoutError
from roboos.brain.server.schemas import ChatCompletionRequest
from roboos.brain.server.settings import ServerSettings


class EmbeddedBackend:
    """Serves one loaded model; ``chat``/``chat_stream`` speak OpenAI chat completions."""

    kind = "transformers"

    def __init__(self, brain: LoadedBrain, settings: ServerSettings) -> None:
        self.brain = brain
        self.settings = settings
        self.name = settings.served_model_name or brain.name
        self.runtime = BrainRuntime(brain, max_seq_len=settings.max_seq_len, max_batch_size=settings.max_batch_size,
                                    use_engine=settings.use_engine, use_cuda_graph=settings.use_cuda_graph)
        self.batcher = Batcher(self.runtime, max_batch_size=settings.max_batch_size,
                               batch_window_s=settings.batch_window_ms / 1000.0, max_queue=settings.max_queue)
        self.limits = ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels,
                                  allow_files=settings.allow_file_images, roots=tuple(settings.image_roots))
        self.started = time.time()

    # ------------------------------------------------------------------------------------- metadata
    def models(self) -> list[dict]:
        return [{"id": self.name, "object": "model", "created": int(self.started), "owned_by": "roboos",
                 "max_model_len": self.settings.max_seq_len}]

    async def health(self) -> dict:
        return {"status": "ok", "backend": self.kind, "engine": self.runtime.backend_name,
                "engine_note": self.runtime.engine_error, "model": self.name, "device": str(self.brain.device),
                "dtype": str(self.brain.dtype).replace("torch.", ""), "thinking_model": self.brain.thinking_model,
                "queue_depth": self.batcher.queue_depth, "stats": dict(self.batcher.stats), "load": self.brain.info}

    def vision_input_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) the vision tower sees for an image of ``size`` (after the processor's resize)."""
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

        ip = self.brain.processor.image_processor
        factor = int(getattr(ip, "patch_size", 14)) * int(getattr(ip, "merge_size", 2))
        lo = getattr(ip, "min_pixels", None) or (ip.size or {}).get("shortest_edge", self.settings.vision_min_pixels)
        hi = getattr(ip, "max_pixels", None) or (ip.size or {}).get("longest_edge", self.settings.vision_max_pixels)
        h, w = smart_resize(size[1], size[0], factor=factor, min_pixels=lo, max_pixels=hi)
        return w, h

    async def close(self) -> None:
        await asyncio.to_thread(self.batcher.close)

    # --------------------------------------------------------------------------------------- requests
    def _prepare(self, req: ChatCompletionRequest) -> GenerationRequest:
        messages = [m.model_dump(exclude_none=True) for m in req.messages]
        chars = sum(len(m.get("content") or "") if isinstance(m.get("content"), str) else
                    sum(len(str(p.get("text", ""))) for p in m.get("content") or []) for m in messages)
        if chars > self.settings.max_prompt_chars:
            raise PromptTooLongError(f"prompt has {chars} characters; the limit is {self.settings.max_prompt_chars}")
        tools = [t.model_dump(exclude_none=True) for t in req.tools] if req.tools else None
        prompt: PreparedPrompt = build_prompt(
            self.brain.processor, messages, tools=tools if req.tool_choice != "none" else None,
            thinking_model=self.brain.thinking_model, enable_thinking=req.thinking(self.settings.enable_thinking),
            limits=self.limits)
        prompt_tokens = self.runtime.count_tokens(prompt)
        room = self.settings.max_seq_len - prompt_tokens
        wanted = req.wanted_tokens()
        if room < 1 or (wanted is not None and wanted > room):
            raise PromptTooLongError(
                f"prompt of {prompt_tokens} tokens + max_tokens {wanted or 1} exceeds the context of "
                f"{self.settings.max_seq_len} tokens")
        max_new = min(wanted or self.settings.default_max_tokens, room, self.settings.max_new_tokens_limit)
        temperature = self.settings.default_temperature if req.temperature is None else req.temperature
        sampling = SamplingParams(temperature=temperature, top_p=req.top_p or 1.0, top_k=req.top_k or 0,
                                  seed=req.seed)
        return GenerationRequest(prompt, max_new, sampling, tuple(req.stop or ()))

    async def _events(self, job: Job) -> AsyncIterator[tuple[str, object]]:
        try:
            while True:
                remaining = job.deadline - time.monotonic()
                if remaining <= 0:
                    raise RequestTimeoutError("request timed out")
                try:
                    kind, payload = await asyncio.wait_for(job.events.get(), timeout=remaining)
                except asyncio.TimeoutError as exc:
                    raise RequestTimeoutError("request timed out") from exc
                if kind == "error":
                    raise payload  # type: ignore[misc]
                yield kind, payload
                if kind == "done":
                    return
        finally:
            job.cancelled.set()  # a finished, failed or abandoned request never occupies the GPU further

    async def generate(self, req: ChatCompletionRequest) -> GenerationResult:
        gen = await asyncio.to_thread(self._prepare, req)
        job = self.batcher.submit(gen, self.settings.request_timeout_s)
        async for kind, payload in self._events(job):
            if kind == "done":
                return payload  # type: ignore[return-value]
        raise RequestTimeoutError("no result")

    async def chat(self, req: ChatCompletionRequest) -> dict:
        result = await self.generate(req)
        tools = [t.model_dump(exclude_none=True) for t in req.tools] if req.tools else None
        content, calls = fmt.split_tool_calls(result.content, tools, req.tool_choice)
        return fmt.completion(fmt.completion_id(), self.name, content, result.reasoning, calls, result.finish_reason,
                              result.prompt_tokens, result.completion_tokens)

    async def chat_stream(self, req: ChatCompletionRequest) -> AsyncIterator[dict]:
        """Chunks of a streamed completion. With tools offered, content is held back until the end so
        tool calls can be emitted as structured deltas instead of raw ``<tool_call>`` text."""
        gen = await asyncio.to_thread(self._prepare, req)
        job = self.batcher.submit(gen, self.settings.request_timeout_s)
        return self._stream(req, job)

    async def _stream(self, req: ChatCompletionRequest, job: Job) -> AsyncIterator[dict]:
        cid, name = fmt.completion_id(), self.name
        tools = [t.model_dump(exclude_none=True) for t in req.tools] if req.tools and req.tool_choice != "none" else None
        held: list[str] = []
        yield fmt.chunk(cid, name, {"role": "assistant", "content": ""})
        async for kind, payload in self._events(job):
            if kind == "delta":
                reasoning, content = payload  # type: ignore[misc]
                if reasoning:
                    yield fmt.chunk(cid, name, {"reasoning_content": reasoning})
                if content:
                    if tools:
                        held.append(content)
                    else:
                        yield fmt.chunk(cid, name, {"content": content})
                continue
            result: GenerationResult = payload  # type: ignore[assignment]
            finish = result.finish_reason
            if tools:
                content, calls = fmt.split_tool_calls("".join(held), tools, req.tool_choice)
                if content:
                    yield fmt.chunk(cid, name, {"content": content})
                for delta in fmt.tool_call_deltas(calls):
                    yield fmt.chunk(cid, name, delta)
                finish = "tool_calls" if calls else finish
            yield fmt.chunk(cid, name, {}, finish=finish)
            if req.stream_options is not None and req.stream_options.include_usage:
                yield fmt.chunk(cid, name, {}, usage_=fmt.usage(result.prompt_tokens, result.completion_tokens),
                                with_choice=False)
