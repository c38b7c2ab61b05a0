"""The LLM planner against a small scripted OpenAI-compatible HTTP server (real HTTP on loopback)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from master_rig import household_robots, household_world

from roboos.master.config import LLMPlannerConfig
from roboos.master.models import PlanningError, Step, StepStatus
from roboos.master.planning import PlanRequest
from roboos.master.planning.llm import LLMPlanner
from roboos.master.planning.prompt import build_messages, skill_signature


class ScriptedChat:
    """Answers each POST /v1/chat/completions with the next scripted reply; records every request."""

    def __init__(self, replies: list[str | tuple[int, str]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script.requests.append(body)
                script.headers.append(dict(self.headers))
                reply = script.replies.pop(0) if script.replies else "{}"
                status, text = reply if isinstance(reply, tuple) else (200, None)
                if text is None:
                    payload = {"id": "x", "object": "chat.completion", "model": body["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": reply}}],
                               "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}
                    text = json.dumps(payload)
                data = text.encode()
                self.send_response(status if self.path == "/v1/chat/completions" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def feedback(self, request: int) -> str:
        """The last user message of the ``request``-th call (the validation feedback on retries)."""
        return self.requests[request]["messages"][-1]["content"]


@pytest.fixture
def chat() -> Iterator[Any]:
    servers: list[ScriptedChat] = []

    def make(replies: list) -> ScriptedChat:
        server = ScriptedChat(replies)
        server.thread.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.server.shutdown()
        server.server.server_close()


def run_plan(server: ScriptedChat, request: PlanRequest | None = None, **cfg: Any):
    config = LLMPlannerConfig(base_url=server.base_url, model="robobrain-test", **cfg)

    async def go():
        planner = LLMPlanner(config)
        try:
            return await planner.plan(request or PlanRequest(
                instruction="put the screwdriver on the shelf", robots=household_robots(), world=household_world()))
        finally:
            await planner.aclose()

    return asyncio.run(go())


GOOD = json.dumps({"steps": [
    {"id": "s1", "robot": "arm1", "skill": "pick", "args": {"object": "screwdriver"}, "depends_on": []},
    {"id": "s2", "robot": "arm1", "skill": "place", "args": {"target": "shelf"}, "depends_on": ["s1"]}],
    "notes": "arm only"})


def test_malformed_unknown_skill_and_bad_args_are_fed_back_until_a_valid_plan(chat, monkeypatch) -> None:
    monkeypatch.setenv("ROBOOS_LLM_API_KEY", "sk-test")
    server = chat([
        "Sure! Here is the plan: {steps: [pick screwdriver]}",
        json.dumps({"steps": [{"id": "s1", "robot": "arm1", "skill": "teleport", "args": {}}]}),
        json.dumps({"steps": [{"id": "s1", "robot": "arm1", "skill": "pick", "args": {"object": "unicorn"}}]}),
        f"```json\n{GOOD}\n```",
    ])
    plan = run_plan(server, max_attempts=4)
    assert [(s.robot, s.skill, s.args) for s in plan.steps] == [
        ("arm1", "pick", {"object": "screwdriver"}), ("arm1", "place", {"target": "shelf"})]
    assert plan.steps[1].depends_on == ["s1"]
    assert plan.planner == "llm planner (robobrain-test)"
    assert (plan.prompt_tokens, plan.completion_tokens) == (400, 80), "usage is summed over all attempts"
    assert "not valid JSON" in server.feedback(1)
    assert "has no skill 'teleport'" in server.feedback(2) and "it offers:" in server.feedback(2)
    assert "bad argument 'object' for 'pick'" in server.feedback(3) and "unicorn" in server.feedback(3)
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    first = server.requests[0]
    assert first["model"] == "robobrain-test" and first["temperature"] == 0.0
    assert "Instruction: put the screwdriver on the shelf" in first["messages"][-1]["content"]


def test_retry_exhaustion_raises_with_the_last_problem(chat) -> None:
    bad = json.dumps({"steps": [{"id": "a", "robot": "arm1", "skill": "pick", "args": {"object": "apple"},
                                 "depends_on": ["b"]},
                                {"id": "b", "robot": "arm1", "skill": "place", "args": {"target": "shelf"},
                                 "depends_on": ["a"]}]})
    server = chat([bad, bad])
    with pytest.raises(PlanningError, match=r"no valid plan in 2 attempts; last problem: .*dependency cycle"):
        run_plan(server, max_attempts=2)
    assert len(server.requests) == 2


@pytest.mark.parametrize(("steps", "problem"), [
    ([{"id": "s1", "robot": "ghost", "skill": "pick", "args": {}}], "unknown robot 'ghost'"),
    ([{"id": "s1", "robot": "arm1", "skill": "pick", "args": {"object": "apple"}},
      {"id": "s1", "robot": "arm1", "skill": "place", "args": {"target": "shelf"}}], "duplicate step id 's1'"),
    ([{"id": "s1", "robot": "arm1", "skill": "place", "args": {"target": "shelf"}, "depends_on": ["s9"]}],
     "depends on unknown step 's9'"),
    ([{"id": "s1", "robot": "arm1", "skill": "pick", "args": {"object": "apple", "force": 3}}],
     "Additional properties are not allowed"),
    ([{"id": "s1", "robot": "arm1", "skill": "pick", "args": {"object": "apple"}, "when": "now"}], "unknown keys: when"),
    ([{"id": "s1", "robot": "arm1", "skill": "pick", "args": ["apple"]}], r"steps\[0\]\.args: Input should be a valid dict"),
])
def test_each_validation_problem_is_reported(chat, steps: list, problem: str) -> None:
    server = chat([json.dumps({"steps": steps})])
    with pytest.raises(PlanningError, match=problem):
        run_plan(server, max_attempts=1)


def test_offline_robots_are_refused_in_plans(chat) -> None:
    robots = household_robots(online={"rover1": False})
    server = chat([json.dumps({"steps": [{"id": "s1", "robot": "rover1", "skill": "navigate",
                                          "args": {"target": "sink"}}]})])
    request = PlanRequest(instruction="go to the sink", robots=robots, world=household_world())
    with pytest.raises(PlanningError, match="robot 'rover1' is offline"):
        run_plan(server, request, max_attempts=1)


def test_http_errors_and_unreachable_endpoints_are_clear(chat) -> None:
    server = chat([(503, '{"error": "overloaded"}')])
    with pytest.raises(PlanningError, match="answered HTTP 503"):
        run_plan(server)
    server = chat([(200, '{"not": "a completion"}')])
    with pytest.raises(PlanningError, match="not a chat completion"):
        run_plan(server)
    dead = ScriptedChat([])  # bound but never served, then closed: connection refused
    dead.server.server_close()
    with pytest.raises(PlanningError, match="cannot reach the planner endpoint"):
        run_plan(dead, timeout_s=2)


def test_replan_prompt_carries_the_failure_and_previous_plan() -> None:
    failed = Step(id="s1", robot="arm1", skill="pick", args={"object": "screwdriver"}, status=StepStatus.failed,
                  error={"code": "skill_failed", "message": "gripper slipped"})
    from roboos.master.models import Plan

    request = PlanRequest(instruction="put the screwdriver on the shelf", robots=household_robots(),
                          world=household_world(), replan=1, previous_plan=Plan(steps=[failed]),
                          failed_step=failed, error=failed.error, history=["s1 arm1.pick started"])
    text = build_messages(request)[-1]["content"]
    assert "REPLAN #1" in text and "skill_failed: gripper slipped" in text
    assert 's1 arm1.pick{"object":"screwdriver"} [failed]' in text
    assert "screwdriver@workbench" in text and "fridge (closed)" in text
    arm = household_robots()[0]
    pick = arm.skill("pick")
    assert skill_signature(pick).startswith("pick(object: red_cup|blue_cup|apple")
    assert skill_signature(pick, household_world()).startswith("pick(object: <object>) - ")
    assert len(text) < 6000, "prompts stay compact"


def test_skill_selector_narrows_the_prompt_but_not_validation(chat) -> None:
    server = chat([GOOD])
    seen = []

    def select(instruction: str, cards):  # noqa: ANN001, ANN202 - e.g. SkillRetriever.retrieve
        seen.append((instruction, sorted(c.name for c in cards)))
        return [c for c in cards if c.name in ("pick", "place")]

    async def go():
        planner = LLMPlanner(LLMPlannerConfig(base_url=server.base_url, model="m"), select_skills=select)
        try:
            return await planner.plan(PlanRequest(instruction="put the screwdriver on the shelf",
                                                  robots=household_robots(), world=household_world()))
        finally:
            await planner.aclose()

    plan = asyncio.run(go())
    assert [s.skill for s in plan.steps] == ["pick", "place"]
    prompt = server.requests[0]["messages"][-1]["content"]
    assert "pick(object: <object>)" in prompt and "scan(" not in prompt and "navigate(" not in prompt
    assert seen[0][0] == "put the screwdriver on the shelf" and "navigate" in seen[0][1], "unique cards offered"


def test_master_runs_an_llm_plan_on_the_robots(chat) -> None:
    from master_rig import MasterRig, run_master

    from roboos.master.models import TaskStatus

    plan = {"steps": [
        {"id": "a", "robot": "arm1", "skill": "pick", "args": {"object": "toy_block"}},
        {"id": "b", "robot": "arm1", "skill": "place", "args": {"target": "bin"}, "depends_on": ["a"]},
        {"id": "c", "robot": "rover1", "skill": "navigate", "args": {"target": "sink"}}]}
    server = chat(["no idea", json.dumps(plan)])

    async def check(rig: MasterRig) -> None:
        record, events = await rig.run_task("tidy up: toy block in the bin, rover to the sink")
        assert record.status is TaskStatus.succeeded, record.reason
        assert record.plan.planner == "llm planner (robobrain-test)"
        assert (record.plan.prompt_tokens, record.plan.completion_tokens) == (200, 40)
        assert rig.world.location_of("toy_block") == "bin"
        assert "Instruction: tidy up" in server.requests[0]["messages"][-1]["content"]

    run_master(check, cloud=["planner.kind=llm", f"planner.llm.base_url={server.base_url}",
                             "planner.llm.model=robobrain-test"])
