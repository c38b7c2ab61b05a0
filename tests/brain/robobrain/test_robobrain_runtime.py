"""Loading a tiny RoboBrain checkpoint through the real loader, prompts, images, tools and batched runtime."""

from __future__ import annotations

import base64
import json

import pytest
from PIL import Image
from roboos.brain.engine import SamplingParams
from roboos.brain.robobrain.chat import BadMessagesError, build_prompt
from roboos.brain.robobrain.images import BadImageError, ImageLimits, load_image, to_data_url
from roboos.brain.robobrain.loader import ModelLoadError, load_brain
from roboos.brain.robobrain.runtime import BrainRuntime, GenerationRequest, PromptTooLongError
from roboos.brain.robobrain.tiny import make_tiny_robobrain
from roboos.brain.robobrain.tools import parse_tool_calls, render_tool_calls, tools_system_text


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    folder = make_tiny_robobrain(tmp_path_factory.mktemp("rb") / "RoboBrain2.0-7B-tiny")
    return load_brain(str(folder), progress=True)


@pytest.fixture(scope="module")
def runtime(brain):
    return BrainRuntime(brain, max_seq_len=1024, max_batch_size=4)


def test_loader_reports_model_facts(brain):
    assert brain.name == "RoboBrain2.0-7B-tiny" and brain.thinking_model
    assert str(brain.device) == "cpu" and brain.info["dtype"] == "float32"
    assert brain.processor.tokenizer.convert_ids_to_tokens(brain.stop_token_ids[-1]) in ("<|im_end|>", "<|endoftext|>")
    with pytest.raises(ModelLoadError):
        load_brain("/nonexistent/RoboBrain2.0-7B", progress=False)


def test_images_from_data_urls_and_files(tmp_path):
    img = Image.new("RGB", (40, 30), (1, 2, 3))
    assert load_image(to_data_url(img)).size == (40, 30)
    path = tmp_path / "frame.png"
    img.save(path)
    assert load_image(str(path)).size == (40, 30) and load_image(f"file://{path}").size == (40, 30)
    bad = [
        "data:image/png;base64,@@@",                                         # not base64
        "data:image/png;base64," + base64.b64encode(b"not an image").decode(),
        "data:text/plain;base64,aGk=",
        "https://example.com/x.png",                                         # never fetched
        str(tmp_path / "missing.png"),
        to_data_url(Image.new("RGB", (4, 4))),                               # too small
    ]
    for spec in bad:
        with pytest.raises(BadImageError):
            load_image(spec)
    with pytest.raises(BadImageError):
        load_image(to_data_url(img), ImageLimits(max_pixels=100))
    with pytest.raises(BadImageError):
        load_image(str(path), ImageLimits(roots=(str(tmp_path / "elsewhere"),)))
    with pytest.raises(BadImageError):
        load_image(str(path), ImageLimits(allow_files=False))


def test_prompt_with_image_tools_history_and_thinking(brain):
    tools = [{"type": "function", "function": {"name": "pick", "parameters": {"type": "object"}}}]
    messages = [
        {"role": "system", "content": "You control a robot arm."},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": to_data_url(Image.new("RGB", (64, 64)))}},
                                     {"type": "text", "text": "pick the cup"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "pick", "arguments": '{"object": "cup"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
    ]
    prompt = build_prompt(brain.processor, messages, tools=tools, thinking_model=True, enable_thinking=True)
    assert prompt.in_thinking and prompt.text.endswith("<|im_start|>assistant\n<think>")
    assert "You control a robot arm.\n\n# Tools" in prompt.text and '"name": "pick"' in prompt.text
    assert '<tool_call>\n{"name": "pick", "arguments": {"object": "cup"}}\n</tool_call>' in prompt.text
    assert '<tool_response>\n{"ok": true}\n</tool_response>' in prompt.text
    assert len(prompt.images) == 1 and "<|image_pad|>" in prompt.text
    off = build_prompt(brain.processor, messages[:2], thinking_model=True, enable_thinking=False)
    assert off.text.endswith("<think></think><answer>") and not off.in_thinking
    for broken in ([], [{"role": "robot", "content": "x"}], [{"role": "user", "content": [{"type": "audio"}]}],
                   [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]):
        with pytest.raises(BadMessagesError):
            build_prompt(brain.processor, broken)


def test_tool_call_format_round_trip():
    assert "<tools>\n" in tools_system_text([{"type": "function", "function": {"name": "go"}}])
    text = ('I will go.\n<tool_call>\n{"name": "go", "arguments": {"place": "sink"}}\n</tool_call>\n'
            '<tool_call>{"name": "rm", "arguments": {}}</tool_call><tool_call>{broken json</tool_call>')
    content, calls = parse_tool_calls(text, allowed={"go"})
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("go", {"place": "sink"})]
    assert content.startswith("I will go.") and "rm" in content and "broken json" in content
    rendered = render_tool_calls([c.to_openai() for c in calls])
    assert parse_tool_calls(rendered)[1][0].name == "go"


def test_batched_generation_rows_are_independent(runtime, brain):
    prompts = [build_prompt(brain.processor, [{"role": "user", "content": text}])
               for text in ("hello", "a much longer question about the kitchen table")]
    single = [runtime.run_batch([GenerationRequest(p, 6)])[0] for p in prompts]
    batched = runtime.run_batch([GenerationRequest(prompts[0], 6), GenerationRequest(prompts[1], 3)])
    assert batched[0].text == single[0].text
    assert batched[1].completion_tokens <= 3 and single[1].text.startswith(batched[1].text)
    assert batched[0].prompt_tokens == single[0].prompt_tokens


def test_streaming_deltas_rebuild_the_result(runtime, brain):
    prompt = build_prompt(brain.processor, [{"role": "user", "content": "hi"}], thinking_model=True,
                          enable_thinking=True)
    deltas: list[tuple[int, str, str]] = []
    result = runtime.run_batch([GenerationRequest(prompt, 12, SamplingParams(temperature=0.9, seed=1))],
                               on_delta=lambda b, r, c: deltas.append((b, r, c)))[0]
    assert "".join(d[1] for d in deltas).strip() == result.reasoning
    assert "".join(d[2] for d in deltas).strip() == result.content


def test_engine_and_transformers_fallback_agree(brain):
    prompt = build_prompt(brain.processor, [{"role": "user", "content": "describe the scene"}])
    fast = BrainRuntime(brain, max_seq_len=512, max_batch_size=1)
    slow = BrainRuntime(brain, max_seq_len=512, max_batch_size=1, use_engine=False)
    assert slow.backend_name == "transformers-generate"
    assert fast.run_batch([GenerationRequest(prompt, 8)])[0].text == slow.run_batch([GenerationRequest(prompt, 8)])[0].text


def test_stop_strings_and_prompt_limits(runtime, brain):
    prompt = build_prompt(brain.processor, [{"role": "user", "content": "hello"}])
    text = runtime.run_batch([GenerationRequest(prompt, 10)])[0].text
    if len(text) >= 3:
        cut = runtime.run_batch([GenerationRequest(prompt, 10, stop=(text[2:4],))])[0]
        assert cut.text == text[: text.find(text[2:4])] and cut.finish_reason == "stop"
    long_prompt = build_prompt(brain.processor, [{"role": "user", "content": "x" * 1200}])
    with pytest.raises(PromptTooLongError):
        runtime.run_batch([GenerationRequest(long_prompt, 10)])


def test_w8a16_quantized_load_runs_through_the_engine(tmp_path):
    pytest.importorskip("roboos.brain.quant")
    folder = make_tiny_robobrain(tmp_path / "RoboBrain2.0-3B-tiny", thinking=False)
    quantized = load_brain(str(folder), quant="w8a16", progress=False)
    assert quantized.info["quant_report"]["modules"] > 0
    prompt = build_prompt(quantized.processor, [{"role": "user", "content": "where is the cup?"}])
    fast = BrainRuntime(quantized, max_seq_len=256, max_batch_size=1)
    slow = BrainRuntime(quantized, max_seq_len=256, max_batch_size=1, use_engine=False)
    assert fast.run_batch([GenerationRequest(prompt, 6)])[0].text == slow.run_batch([GenerationRequest(prompt, 6)])[0].text
