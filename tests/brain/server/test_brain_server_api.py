"""The brain server through the official ``openai`` client and plain HTTP (real uvicorn on loopback)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from brain_server_rig import IMAGE_URL, MODEL, MOVE_TOOL, scene_image
from openai import OpenAI
from roboos.brain.robobrain.prompts import Task
from roboos.brain.server.tasks import structure


@pytest.fixture(scope="module")
def client(brain_server) -> OpenAI:
    return OpenAI(base_url=f"{brain_server.url}/v1", api_key="unused", timeout=120, max_retries=0)


def ask(client: OpenAI, text: str, **kw):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}],
                                          max_tokens=kw.pop("max_tokens", 8), **kw)


def test_models_and_health(client, brain_server):
    assert [m.id for m in client.models.list().data] == [MODEL]
    health = httpx.get(f"{brain_server.url}/health", timeout=10).json()
    assert health["status"] == "ok" and health["engine"] == "fast-engine" and health["thinking_model"]


def test_chat_completion_shape_and_usage(client):
    reply = ask(client, "Where is the red block?")
    choice = reply.choices[0]
    assert reply.model == MODEL and choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 8 and reply.usage.prompt_tokens > 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_stream_equals_non_stream(client):
    whole = ask(client, "Describe the table.", max_tokens=12)
    chunks = list(ask(client, "Describe the table.", max_tokens=12, stream=True,
                      stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == (whole.choices[0].message.content or "").strip()
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]


def test_image_input_and_thinking_mode(client):
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": IMAGE_URL}},
                                             {"type": "text", "text": "What is on the table?"}]}]
    plain = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6)
    thinking = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6,
                                              extra_body={"chat_template_kwargs": {"enable_thinking": True}})
    assert plain.usage.prompt_tokens > 20  # the image expanded into vision tokens
    assert thinking.usage.prompt_tokens == plain.usage.prompt_tokens - 3 + 1  # "<think>" vs "<think></think><answer>"
    extra = thinking.choices[0].message.model_extra or {}
    assert "reasoning_content" in extra or thinking.choices[0].message.content is not None


def test_tools_are_offered_in_the_prompt(client):
    plain = ask(client, "Please go to the kitchen.")
    tooled = ask(client, "Please go to the kitchen.", tools=[MOVE_TOOL])
    none = ask(client, "Please go to the kitchen.", tools=[MOVE_TOOL], tool_choice="none")
    assert tooled.usage.prompt_tokens > plain.usage.prompt_tokens + 20
    assert none.usage.prompt_tokens == plain.usage.prompt_tokens
    history = [{"role": "user", "content": "go"},
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function", "function": {"name": "move_to", "arguments": '{"place": "sink"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": '{"ok": true}'}]
    follow = client.chat.completions.create(model=MODEL, messages=history, tools=[MOVE_TOOL], max_tokens=4, stream=True)
    assert any(c.choices and c.choices[0].finish_reason for c in follow)


def test_concurrent_requests_are_batched_and_independent(client, brain_server):
    prompts = [f"Question number {i}: where is the cup?" for i in range(4)]
    alone = [ask(client, p).choices[0].message.content for p in prompts]
    before = httpx.get(f"{brain_server.url}/health", timeout=10).json()["stats"]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: ask(client, p).choices[0].message.content, prompts))
    after = httpx.get(f"{brain_server.url}/health", timeout=10).json()["stats"]
    assert together == alone
    assert after["requests"] - before["requests"] == 4 and after["batches"] - before["batches"] < 4


def test_task_endpoint_random_answer_is_a_typed_parse_error(brain_server):
    resp = httpx.post(f"{brain_server.url}/v1/robobrain/pointing", timeout=60,
                      json={"image": IMAGE_URL, "text": "the red block", "max_tokens": 6})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["type"] == "answer_parse_error" and err["code"].startswith("answer_") and "raw" in err


@pytest.mark.parametrize("task, answer, key, first", [
    (Task.POINTING, "[(40, 28), (50, 30)]", "points", [80.0, 56.0]),
    (Task.AFFORDANCE, "[10, 10, 30, 20]", "boxes", [20.0, 20.0, 60.0, 40.0]),
    (Task.GROUNDING, "<think>blue ball</think><answer>[30, 15, 40, 25]</answer>", "boxes", [60.0, 30.0, 80.0, 50.0]),
    (Task.TRAJECTORY, "[[35, 20], [27, 19], [20, 15]]", "trajectory", [70.0, 40.0]),
    (Task.PLANNING, "1. go to the table\n2. pick the block", "steps", "go to the table"),
])
def test_task_results_map_to_original_pixels(task, answer, key, first):
    size = scene_image().size  # 96x64, seen by the model at half resolution in this example
    out = structure(task, answer, (48, 32), size)
    assert out[key][0] == first


def test_planner_talks_to_the_server(brain_server):
    """The master's LLM planner against this server: real requests; the random model's text is rejected
    as an invalid plan and fed back, attempt after attempt, exactly as with a real endpoint."""
    from roboos.master.config import LLMPlannerConfig
    from roboos.master.models import PlanningError
    from roboos.master.planning import PlanRequest
    from roboos.master.planning.llm import LLMPlanner

    config = LLMPlannerConfig(base_url=f"{brain_server.url}/v1", model=MODEL, max_tokens=8, max_attempts=2)

    async def go():
        planner = LLMPlanner(config)
        try:
            await planner.plan(PlanRequest(instruction="go to the kitchen", robots=[], world={}))
        finally:
            await planner.aclose()

    before = httpx.get(f"{brain_server.url}/health", timeout=10).json()["stats"]["requests"]
    with pytest.raises(PlanningError, match="2 attempts"):
        asyncio.run(go())
    assert httpx.get(f"{brain_server.url}/health", timeout=10).json()["stats"]["requests"] - before == 2


def test_sse_wire_format(brain_server):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": True}
    with httpx.stream("POST", f"{brain_server.url}/v1/chat/completions", json=body, timeout=60) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_annotated_result_picture(tmp_path):
    from roboos.brain.robobrain.annotate import annotate

    img = scene_image()
    result = structure(Task.TRAJECTORY, "[[35, 20], [27, 19], [20, 15]]", (48, 32), img.size)
    result.update(structure(Task.GROUNDING, "[10, 7, 22, 20]", (48, 32), img.size))
    drawn = annotate(img, result)
    assert drawn.size == img.size and drawn.tobytes() != img.tobytes()
    assert drawn.getpixel((70, 40)) != img.getpixel((70, 40))  # the trajectory start is marked
