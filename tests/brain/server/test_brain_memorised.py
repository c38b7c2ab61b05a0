"""End to end with real model output: the tiny checkpoint is first trained (a few seconds of Adam on CPU)
to memorise three answers for exact prompts — a pointing answer, a tool call and a JSON plan for the master's
planner prompt. Greedy decoding through the real server then yields them, so the task parser, coordinate
mapping, OpenAI tool calls (plain and streamed) and the planner's validated plan are checked on text the model
actually generated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from brain_server_rig import IMAGE_URL, MODEL, MOVE_TOOL, ServerThread, scene_image, start_server
from openai import OpenAI
from roboos.brain.robobrain.chat import build_prompt
from roboos.brain.robobrain.processor import BrainProcessor
from roboos.brain.robobrain.prompts import Task, task_prompt
from roboos.brain.robobrain.tiny import default_corpus, make_tiny_robobrain

pytestmark = pytest.mark.slow  # teaching the tiny model takes ~20 s

POINT_ANSWER = "[(32, 27), (36, 30)]"
TOOL_PROMPT = [{"role": "user", "content": "Please go to the kitchen."}]
TOOL_ANSWER = '<tool_call>\n{"name": "move_to", "arguments": {"place": "kitchen"}}\n</tool_call>'
PLAN = {"steps": [{"id": "s1", "robot": "rover", "skill": "navigate", "args": {"place": "kitchen"},
                   "depends_on": []}], "notes": "drive"}


def planner_request():
    from roboos.skills.card import SkillCard
    from roboos.skills.sdk import get_spec, skill

    from roboos.master.models import RobotInfo
    from roboos.master.planning import PlanRequest

    @skill
    def navigate(place: str) -> dict:
        """Drive to a place."""
        return {"at": place}

    robot = RobotInfo(name="rover", embodiment="wheeled", online=True, skills=[SkillCard.from_spec(get_spec(navigate))])
    return PlanRequest(instruction="go to the kitchen", robots=[robot], world={})


def examples() -> list[tuple[list[dict], list[dict] | None, str]]:
    from roboos.master.planning.prompt import build_messages

    pointing = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": IMAGE_URL}},
                                             {"type": "text", "text": task_prompt(Task.POINTING, "the red block")}]}]
    return [(pointing, None, POINT_ANSWER), (TOOL_PROMPT, [MOVE_TOOL], TOOL_ANSWER),
            (build_messages(planner_request()), None, json.dumps(PLAN))]


def memorise(folder: Path, max_steps: int = 300) -> float:
    """Train the checkpoint in ``folder`` until greedy decoding reproduces every example."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    proc = BrainProcessor.from_pretrained(str(folder))
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(folder), dtype=torch.float32)
    batches = []
    for messages, tools, answer in examples():
        prompt = build_prompt(proc, messages, tools=tools, thinking_model=True, enable_thinking=False)
        full = proc([prompt.text + answer + "</answer><|im_end|>"], [prompt.images])
        labels = full["input_ids"].clone()
        labels[:, : proc([prompt.text], [prompt.images])["input_ids"].shape[1]] = -100
        batches.append((full, labels))
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = float("inf")
    for _ in range(max_steps):
        opt.zero_grad()
        total = sum(model(**inputs, labels=labels).loss for inputs, labels in batches) / len(batches)
        total.backward()
        opt.step()
        loss = float(total.detach())
        if loss < 5e-3:
            break
    model.eval().save_pretrained(folder)
    return loss


@pytest.fixture(scope="module")
def taught_server(tmp_path_factory) -> Iterator[ServerThread]:
    from roboos.master.planning.prompt import SYSTEM_PROMPT

    corpus = default_corpus() + [SYSTEM_PROMPT, json.dumps(PLAN), TOOL_ANSWER] * 4
    folder = make_tiny_robobrain(tmp_path_factory.mktemp("taught") / MODEL, corpus=corpus)
    loss = memorise(folder)
    assert loss < 0.05, f"memorisation did not converge (loss {loss:.4f})"
    server, _app = start_server(folder)
    yield server
    server.stop()


def test_pointing_endpoint_parses_real_output(taught_server):
    resp = httpx.post(f"{taught_server.url}/v1/robobrain/pointing", timeout=60,
                      json={"image": IMAGE_URL, "text": "the red block", "annotate": True})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["answer"] == POINT_ANSWER and body["image_size"] == list(scene_image().size)
    seen_w, seen_h = body["model_input_size"]
    w, h = body["image_size"]
    assert body["points"][0] == [round(32 * w / seen_w, 1), round(27 * h / seen_h, 1)]
    assert body["annotated_image"].startswith("data:image/png;base64,")


def test_tool_call_plain_and_streamed(taught_server):
    client = OpenAI(base_url=f"{taught_server.url}/v1", api_key="x", max_retries=0)
    reply = client.chat.completions.create(model=MODEL, messages=TOOL_PROMPT, tools=[MOVE_TOOL], max_tokens=64)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and not choice.message.content
    call = choice.message.tool_calls[0]
    assert call.function.name == "move_to" and json.loads(call.function.arguments) == {"place": "kitchen"}
    chunks = list(client.chat.completions.create(model=MODEL, messages=TOOL_PROMPT, tools=[MOVE_TOOL],
                                                 max_tokens=64, stream=True))
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert deltas and deltas[0][0].function.name == "move_to"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    raw = client.chat.completions.create(model=MODEL, messages=TOOL_PROMPT, max_tokens=64)  # no tools offered
    assert raw.choices[0].message.tool_calls is None


def test_master_planner_gets_a_valid_plan(taught_server):
    from roboos.master.config import LLMPlannerConfig
    from roboos.master.planning.llm import LLMPlanner

    config = LLMPlannerConfig(base_url=f"{taught_server.url}/v1", model=MODEL, max_tokens=128, max_attempts=1)

    async def go():
        planner = LLMPlanner(config)
        try:
            return await planner.plan(planner_request())
        finally:
            await planner.aclose()

    plan = asyncio.run(go())
    assert [(s.robot, s.skill, s.args) for s in plan.steps] == [("rover", "navigate", {"place": "kitchen"})]
    assert plan.prompt_tokens > 0 and plan.completion_tokens > 0
