"""Build OpenAI chat-completion responses and streaming chunks from generation results."""

from __future__ import annotations

import time
import uuid

from roboos.brain.robobrain.tools import ToolCall, parse_tool_calls


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def split_tool_calls(content: str, tools: list[dict] | None, tool_choice) -> tuple[str, list[ToolCall]]:
    """Tool calls in ``content`` (only when tools were offered and ``tool_choice`` is not "none")."""
    if not tools or tool_choice == "none":
        return content, []
    allowed = {t["function"]["name"] for t in tools}
    if isinstance(tool_choice, dict):
        forced = (tool_choice.get("function") or {}).get("name")
        if forced:
            allowed = {forced} & allowed
    return parse_tool_calls(content, allowed)


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def message_body(content: str, reasoning: str, calls: list[ToolCall]) -> dict:
    msg: dict = {"role": "assistant", "content": content if (content or not calls) else None}
    if reasoning:
        msg["reasoning_content"] = reasoning
    if calls:
        msg["tool_calls"] = [c.to_openai() for c in calls]
    return msg


def completion(cid: str, model: str, content: str, reasoning: str, calls: list[ToolCall], finish: str,
               prompt_tokens: int, completion_tokens: int) -> dict:
    """A ``chat.completion`` object."""
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message_body(content, reasoning, calls),
                     "finish_reason": "tool_calls" if calls else finish, "logprobs": None}],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def chunk(cid: str, model: str, delta: dict, finish: str | None = None, usage_: dict | None = None,
          with_choice: bool = True) -> dict:
    """A ``chat.completion.chunk`` object (an empty ``choices`` list for the trailing usage chunk)."""
    body: dict = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
                  if with_choice else []}
    if usage_ is not None:
        body["usage"] = usage_
    return body


def tool_call_deltas(calls: list[ToolCall]) -> list[dict]:
    """Streaming deltas announcing complete tool calls (one delta per call)."""
    return [{"tool_calls": [{"index": i, "id": c.id, "type": "function",
                             "function": {"name": c.name, "arguments": c.arguments}}]}
            for i, c in enumerate(calls)]
