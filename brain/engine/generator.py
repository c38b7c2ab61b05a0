"""FastGenerator: static KV cache + CUDA-graph decode for HF decoder LMs (Qwen2.5-VL / RoboBrain 2.0).

Prefill runs through the model's own ``forward`` (so images, M-RoPE and any custom embedding work), its
KV entries are copied into a static cache, and every decode step — embedding, all layers, LM head, token
selection, stop detection and bookkeeping — replays as one captured CUDA graph. The host only replays
and, every few steps, reads a "all rows done" flag.

    gen = FastGenerator(model, max_seq_len=2048, max_batch_size=8)
    out = gen.generate(input_ids, attention_mask, max_new_tokens=128, stop_token_ids=[eos])
    out.tokens  # list[list[int]] per row, stop token excluded
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from roboos.brain.engine.decoder import StepState, decode_step, find_decoder, fuse_projections
from roboos.brain.engine.sampling import SamplingParams, select_tokens

MAX_STOP_IDS = 16


class EngineCapacityError(ValueError):
    """A request does not fit the engine's static cache (batch size or sequence length)."""


@dataclass
class GenerationOutput:
    """Tokens generated per row (stop token excluded) plus why each row stopped and timings."""

    tokens: list[list[int]]
    finish_reasons: list[str]          # "stop" or "length"
    prompt_tokens: int
    prefill_s: float
    decode_s: float
    timings: dict = field(default_factory=dict)


@dataclass
class _Graph:
    graph: object | None
    state: StepState
    temperature: torch.Tensor
    top_p: torch.Tensor
    top_k: torch.Tensor
    stop_ids: torch.Tensor
    done: torch.Tensor
    out_buf: torch.Tensor
    step: torch.Tensor
    sample: bool
    pool: object | None = None
    logits: torch.Tensor | None = None  # the graph's logits output (valid after each replay)


class FastGenerator:
    """Fast batched generation for one HF causal LM (plain or with swapped Linear modules).

    Args:
        model: an HF ``*ForCausalLM`` / ``Qwen2_5_VLForConditionalGeneration`` in eval mode.
        max_seq_len: static cache length (prompt + new tokens) per row.
        max_batch_size: largest batch a call may pass.
        use_cuda_graph: capture decode steps as CUDA graphs (default: when the model is on CUDA).
        fuse: fuse q/k/v and gate/up GEMVs of plain ``nn.Linear`` layers (weights re-pointed, not copied).
    """

    def __init__(self, model: nn.Module, max_seq_len: int = 4096, max_batch_size: int = 8,
                 use_cuda_graph: bool | None = None, fuse: bool = True) -> None:
        self.model = model.eval()
        self.parts = find_decoder(model)
        self.device = self.parts.lm_head.weight.device if hasattr(self.parts.lm_head, "weight") else next(
            model.parameters()).device
        self.dtype = self.parts.embed.weight.dtype
        self.parts.inv_freq = self.parts.inv_freq.to(self.device)
        self.fused_groups = fuse_projections(self.parts) if fuse else 0
        self.max_seq_len = int(max_seq_len)
        self.max_batch_size = int(max_batch_size)
        self.use_cuda_graph = self.device.type == "cuda" if use_cuda_graph is None else bool(use_cuda_graph)
        shape = (self.max_batch_size, self.parts.n_kv_heads, self.max_seq_len, self.parts.head_dim)
        n_layers = len(self.parts.layers)
        self.k_cache = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in range(n_layers)]
        self.v_cache = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in range(n_layers)]
        self._graphs: dict[tuple[int, bool], _Graph] = {}

    # ------------------------------------------------------------------------------------------ public
    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 max_new_tokens: int = 128, sampling: SamplingParams | Sequence[SamplingParams] | None = None,
                 stop_token_ids: Sequence[int] = (), model_inputs: dict | None = None,
                 check_every: int = 16) -> GenerationOutput:
        """Generate up to ``max_new_tokens`` per row of left-padded ``input_ids [B, L]``."""
        out = None
        for event in self._run(input_ids, attention_mask, max_new_tokens, sampling, stop_token_ids,
                               model_inputs, check_every, stream=False):
            out = event
        assert isinstance(out, GenerationOutput)
        return out

    @torch.inference_mode()
    def stream(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               max_new_tokens: int = 128, sampling: SamplingParams | Sequence[SamplingParams] | None = None,
               stop_token_ids: Sequence[int] = (), model_inputs: dict | None = None,
               ) -> Iterator[list[int | None] | GenerationOutput]:
        """Yield, per step, one token per row (``None`` once a row has stopped); finally the output."""
        yield from self._run(input_ids, attention_mask, max_new_tokens, sampling, stop_token_ids, model_inputs,
                             check_every=1, stream=True)

    # ----------------------------------------------------------------------------------------- prefill
    def _check(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int) -> None:
        bsz, length = input_ids.shape
        if bsz > self.max_batch_size:
            raise EngineCapacityError(f"batch {bsz} exceeds max_batch_size {self.max_batch_size}")
        if length + max_new_tokens > self.max_seq_len:
            raise EngineCapacityError(
                f"prompt {length} + max_new_tokens {max_new_tokens} exceeds max_seq_len {self.max_seq_len}")
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        ones_after = attention_mask.cumsum(-1) > 0
        if bool(((attention_mask == 0) & ones_after).any()):
            raise ValueError("attention_mask must be left-padded (padding before the prompt)")

    def _prefill(self, input_ids, attention_mask, model_inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the prompt through ``model.forward``; fill the static cache; return (logits, next positions)."""
        captured: dict = {}
        text = self.parts.embed  # the hook goes on the text decoder that owns embed_tokens

        def grab(_module, _args, kwargs):
            captured["position_ids"] = kwargs.get("position_ids")

        owner = _owner_of(self.model, text)
        handle = owner.register_forward_pre_hook(grab, with_kwargs=True) if owner is not None else None
        extra = dict(model_inputs or {})
        if not any(k.startswith("pixel_values") for k in extra) and "position_ids" not in extra:
            # text only: padding-aware positions (left padding must not shift the real tokens' positions)
            extra["position_ids"] = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
        try:
            result = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=True,
                                logits_to_keep=1, **extra)
        finally:
            if handle is not None:
                handle.remove()
        length = input_ids.shape[1]
        for i, (key, value) in enumerate(_iter_cache(result.past_key_values)):
            self.k_cache[i][: key.shape[0], :, :length].copy_(key[:, :, -length:])
            self.v_cache[i][: value.shape[0], :, :length].copy_(value[:, :, -length:])
        pos_ids = captured.get("position_ids")
        if pos_ids is not None:
            if pos_ids.dim() == 3:  # M-RoPE [3|4, B, L]: rows after the text row carry the rotary positions
                pos_ids = pos_ids[1:] if pos_ids.shape[0] == 4 else pos_ids
                next_pos = pos_ids.masked_fill(attention_mask[None] == 0, -1).amax(dim=(0, 2)) + 1
            else:
                next_pos = pos_ids.masked_fill(attention_mask == 0, -1).amax(dim=-1) + 1
        else:
            next_pos = attention_mask.sum(-1)
        return result.logits[:, -1, :].float(), next_pos.to(torch.int32)

    # ------------------------------------------------------------------------------------------ decode
    def _graph_for(self, bsz: int, sample: bool) -> _Graph:
        key = (bsz, sample)
        if key in self._graphs:
            return self._graphs[key]
        dev = self.device
        state = StepState(
            tokens=torch.zeros(bsz, dtype=torch.long, device=dev),
            positions=torch.zeros(bsz, dtype=torch.int32, device=dev),
            start=torch.zeros(bsz, dtype=torch.int32, device=dev),
            write_idx=torch.zeros(1, dtype=torch.int32, device=dev),
            k_cache=[c[:bsz] for c in self.k_cache], v_cache=[c[:bsz] for c in self.v_cache])
        g = _Graph(None, state, torch.zeros(bsz, device=dev), torch.ones(bsz, device=dev),
                   torch.zeros(bsz, dtype=torch.long, device=dev),
                   torch.full((MAX_STOP_IDS,), -1, dtype=torch.long, device=dev),
                   torch.zeros(bsz, dtype=torch.bool, device=dev),
                   torch.zeros(bsz, self.max_seq_len, dtype=torch.long, device=dev),
                   torch.zeros(1, dtype=torch.long, device=dev), sample)
        if self.use_cuda_graph:
            self._capture(g)
        self._graphs[key] = g
        return g

    def _step(self, g: _Graph) -> torch.Tensor:
        """One decode step, all on device: forward, select, record, advance; returns the logits."""
        logits = decode_step(self.parts, g.state)
        new = select_tokens(logits, g.temperature, g.top_p, g.top_k, g.sample)
        new = torch.where(g.done, torch.zeros_like(new), new)
        g.out_buf.index_copy_(1, g.step, new[:, None])
        g.done |= _is_stop(new, g.stop_ids)
        g.state.tokens.copy_(new)
        g.state.positions.add_(1)
        g.state.write_idx.add_(1)
        g.step.add_(1)
        return logits

    def _capture(self, g: _Graph) -> None:
        saved = [t.clone() for t in (g.state.tokens, g.state.positions, g.state.write_idx, g.step, g.done)]
        g.state.write_idx.fill_(1)  # warm-up steps write slot 1.. of the cache; contents are rewritten later
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                self._step(g)
        torch.cuda.current_stream().wait_stream(stream)
        g.pool = torch.cuda.graph_pool_handle()  # one pool per graph: replays may interleave freely
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=g.pool):
            g.logits = self._step(g)
        g.graph = graph
        for dst, src in zip((g.state.tokens, g.state.positions, g.state.write_idx, g.step, g.done), saved):
            dst.copy_(src)

    def _run(self, input_ids, attention_mask, max_new_tokens, sampling, stop_token_ids, model_inputs,
             check_every: int, stream: bool) -> Iterator[list[int | None] | GenerationOutput]:
        input_ids = input_ids.to(self.device)
        attention_mask = (torch.ones_like(input_ids) if attention_mask is None else attention_mask.to(self.device))
        self._check(input_ids, attention_mask, max_new_tokens)
        bsz, length = input_ids.shape
        params = _per_row(sampling, bsz)
        stops = list(dict.fromkeys(int(s) for s in stop_token_ids))
        if len(stops) > MAX_STOP_IDS:
            raise ValueError(f"at most {MAX_STOP_IDS} stop token ids")
        seeds = [p.seed for p in params if p.seed is not None]
        if seeds:
            torch.manual_seed(seeds[0])
        sample = any(not p.greedy for p in params)
        g = self._graph_for(bsz, sample)
        g.temperature.copy_(torch.tensor([p.temperature for p in params]))
        g.top_p.copy_(torch.tensor([p.top_p for p in params]))
        g.top_k.copy_(torch.tensor([p.top_k for p in params]))
        g.stop_ids.fill_(-1)
        if stops:
            g.stop_ids[: len(stops)].copy_(torch.tensor(stops))

        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        t0 = time.perf_counter()
        self._begin(g, input_ids, attention_mask, model_inputs)
        sync()
        t1 = time.perf_counter()
        stopped = [False] * bsz
        if stream:
            yield _stream_tokens(g.out_buf[:, 0].tolist(), stopped, set(stops))
        steps = 1
        while steps < max_new_tokens:
            if g.graph is not None:
                g.graph.replay()
            else:
                self._step(g)
            steps += 1
            if stream:
                yield _stream_tokens(g.out_buf[:, steps - 1].tolist(), stopped, set(stops))
                if all(stopped):
                    break
            elif steps % check_every == 0 and bool(g.done.all()):
                break
        sync()
        t2 = time.perf_counter()
        rows, reasons = self._collect(g, bsz, steps, set(stops))
        yield GenerationOutput(rows, reasons, length, t1 - t0, t2 - t1, {"steps": steps})

    def _begin(self, g: _Graph, input_ids, attention_mask, model_inputs) -> torch.Tensor:
        """Prefill, pick the first token and load the step state; returns the prefill logits."""
        length = input_ids.shape[1]
        logits, next_pos = self._prefill(input_ids, attention_mask, model_inputs)
        first = select_tokens(logits, g.temperature, g.top_p, g.top_k, g.sample)
        g.out_buf[:, 0] = first
        g.done.copy_(_is_stop(first, g.stop_ids))
        g.state.tokens.copy_(first)
        g.state.positions.copy_(next_pos)
        g.state.start.copy_((length - attention_mask.sum(-1)).to(torch.int32))
        g.state.write_idx.fill_(length)
        g.step.fill_(1)
        return logits

    @torch.inference_mode()
    def first_step_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                          use_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Diagnostics: greedy (prefill logits, first decode-step logits), through the graph or eagerly."""
        input_ids = input_ids.to(self.device)
        attention_mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.to(self.device)
        self._check(input_ids, attention_mask, 2)
        g = self._graph_for(input_ids.shape[0], False)
        g.stop_ids.fill_(-1)
        g.temperature.zero_()
        prefill = self._begin(g, input_ids, attention_mask, None)
        if use_graph and g.graph is not None:
            g.graph.replay()
            step = g.logits
        else:
            step = self._step(g)
        return prefill.clone(), step.clone()

    def _collect(self, g: _Graph, bsz: int, steps: int, stops: set[int]):
        data = g.out_buf[:bsz, :steps].tolist()
        rows, reasons = [], []
        for seq in data:
            cut = next((i for i, tok in enumerate(seq) if tok in stops), None)
            rows.append(seq if cut is None else seq[:cut])
            reasons.append("length" if cut is None else "stop")
        return rows, reasons


def _per_row(sampling, bsz: int) -> list[SamplingParams]:
    if sampling is None:
        return [SamplingParams()] * bsz
    if isinstance(sampling, SamplingParams):
        return [sampling] * bsz
    params = list(sampling)
    if len(params) != bsz:
        raise ValueError(f"{len(params)} sampling params for a batch of {bsz}")
    return params


def _owner_of(model: nn.Module, embed: nn.Module) -> nn.Module | None:
    """The module whose ``embed_tokens`` is ``embed`` (the text decoder receiving position_ids)."""
    for module in model.modules():
        if getattr(module, "embed_tokens", None) is embed and hasattr(module, "layers"):
            return module
    return None


def _iter_cache(cache) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(key, value) per layer from an HF cache object of any recent transformers version."""
    if hasattr(cache, "layers") and cache.layers and hasattr(cache.layers[0], "keys"):
        for layer in cache.layers:
            yield layer.keys, layer.values
    elif hasattr(cache, "key_cache"):
        yield from zip(cache.key_cache, cache.value_cache)
    else:
        yield from cache


def _is_stop(tokens: torch.Tensor, stop_ids: torch.Tensor) -> torch.Tensor:
    return (tokens[:, None] == stop_ids[None, :]).any(-1)


def _stream_tokens(step_tokens: list[int], stopped: list[bool], stops: set[int]) -> list[int | None]:
    """This step's token per row, ``None`` for rows that stopped earlier; updates ``stopped``."""
    out: list[int | None] = []
    for b, tok in enumerate(step_tokens):
        out.append(None if stopped[b] else tok)
        stopped[b] = stopped[b] or tok in stops
    return out
