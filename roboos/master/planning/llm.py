"""The LLM planner: any OpenAI-compatible chat endpoint (RoboBrain via vLLM, FlagScale, the brain server).

The reply must be a JSON plan; it is parsed and validated (:func:`validate_plan`). A malformed or invalid
plan is answered with the problem and the model is asked again, up to ``max_attempts`` calls in all.
Prompt and completion tokens are summed from each reply's ``usage`` field.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from roboos.master.config import LLMPlannerConfig
from roboos.master.models import Plan, PlanningError
from roboos.master.planning.base import PlanRequest
from roboos.master.planning.prompt import build_messages, parse_plan_json
from roboos.master.planning.validate import PlanValidationError, validate_plan
from roboos.skills.card import SkillCard

log = logging.getLogger("roboos.master.llm")

SkillSelector = Callable[[str, Sequence[SkillCard]], Sequence[SkillCard]]


class LLMPlanner:
    """Plans with a chat model over HTTP (``POST {base_url}/chat/completions``)."""

    def __init__(self, config: LLMPlannerConfig | None = None, *, transport: Any = None,
                 select_skills: SkillSelector | None = None) -> None:
        """``select_skills(instruction, cards) -> cards`` (e.g. skill retrieval) narrows the skills listed
        in the prompt to save tokens; plans are still validated against every skill of the robots."""
        import httpx

        self.config = config or LLMPlannerConfig()
        self.select_skills = select_skills
        self.name = f"llm planner ({self.config.model})"
        key = os.environ.get(self.config.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(base_url=self.config.base_url.rstrip("/"), headers=headers,
                                         timeout=self.config.timeout_s, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def plan(self, request: PlanRequest) -> Plan:
        keep = None
        if self.select_skills is not None:
            unique = {c.name: c for r in request.robots for c in r.skills}
            keep = {c.name for c in self.select_skills(request.instruction, list(unique.values()))}
        messages = build_messages(request, keep)
        prompt_tokens = completion_tokens = 0
        problem = ""
        for attempt in range(1, self.config.max_attempts + 1):
            text, usage = await self._complete(messages)
            prompt_tokens += int(usage.get("prompt_tokens") or 0)
            completion_tokens += int(usage.get("completion_tokens") or 0)
            try:
                plan = validate_plan(parse_plan_json(text), request.robots)
            except (ValueError, PlanValidationError) as exc:
                problem = str(exc)
                log.info("plan attempt %d rejected: %s", attempt, problem)
                messages = [*messages, {"role": "assistant", "content": text},
                            {"role": "user", "content": f"That plan is invalid: {problem}. "
                                                        "Reply with the corrected JSON object only."}]
                continue
            plan.planner = self.name
            plan.prompt_tokens, plan.completion_tokens = prompt_tokens, completion_tokens
            if attempt > 1:
                plan.notes = (plan.notes + " " if plan.notes else "") + f"(valid on attempt {attempt})"
            return plan
        raise PlanningError(f"{self.name} gave no valid plan in {self.config.max_attempts} attempts; "
                            f"last problem: {problem}")

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str, dict[str, Any]]:
        import httpx

        payload = {"model": self.config.model, "messages": messages,
                   "temperature": self.config.temperature, "max_tokens": self.config.max_tokens}
        url = f"{self.config.base_url.rstrip('/')}/chat/completions"
        try:
            resp = await self._client.post("/chat/completions", json=payload)
        except httpx.HTTPError as exc:
            raise PlanningError(f"cannot reach the planner endpoint {url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise PlanningError(f"planner endpoint {url} answered HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            data = resp.json()
            text = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise PlanningError(f"planner endpoint {url} sent a reply that is not a chat completion: "
                                f"{resp.text[:300]}") from None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return str(text), usage
