"""Tool calling in the Qwen2.5 / RoboBrain chat format.

Tools are announced in the system message inside ``<tools></tools>`` (one JSON function signature per
line); the model calls one by writing ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``; tool
results come back as a user turn wrapped in ``<tool_response></tool_response>``. This module renders the
announcement, renders earlier assistant calls / tool results into plain text turns, and parses calls out
of generated text (invalid JSON or unknown tool names are left as plain content, never executed).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
_CALL = re.compile(re.escape(TOOL_CALL_OPEN) + r"\s*(.*?)\s*" + re.escape(TOOL_CALL_CLOSE), re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    """One parsed call: ``arguments`` is a JSON object encoded as a string (OpenAI wire shape)."""

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


def tools_system_text(tools: list[dict]) -> str:
    """The system-prompt block announcing ``tools`` (OpenAI ``tools`` list entries)."""
    lines = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    return (
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n"
        f"<tools>\n{lines}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )


def render_tool_calls(calls: list[dict]) -> str:
    """Assistant history turn text for OpenAI ``tool_calls`` entries."""
    blocks = []
    for call in calls:
        fn = call.get("function") or {}
        args = fn.get("arguments") or "{}"
        try:
            args_obj = json.loads(args) if isinstance(args, str) else args
        except ValueError:
            args_obj = args
        blocks.append(f"{TOOL_CALL_OPEN}\n{json.dumps({'name': fn.get('name'), 'arguments': args_obj}, ensure_ascii=False)}"
                      f"\n{TOOL_CALL_CLOSE}")
    return "\n".join(blocks)


def render_tool_response(content: str) -> str:
    """User-turn text carrying one tool result."""
    return f"<tool_response>\n{content}\n</tool_response>"


def parse_tool_calls(text: str, allowed: set[str] | None = None) -> tuple[str, list[ToolCall]]:
    """Split generated ``text`` into (remaining content, tool calls).

    A block is a call only if its body is a JSON object with a string ``name`` (in ``allowed`` when given)
    and object ``arguments``; anything else stays in the content.
    """
    calls: list[ToolCall] = []
    kept: list[str] = []
    last = 0
    for match in _CALL.finditer(text):
        call = _to_call(match.group(1), allowed)
        if call is None:
            continue
        kept.append(text[last:match.start()])
        last = match.end()
        calls.append(call)
    kept.append(text[last:])
    return "".join(kept).strip(), calls


def _to_call(body: str, allowed: set[str] | None) -> ToolCall | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    if not isinstance(args, dict) or (allowed is not None and data["name"] not in allowed):
        return None
    return ToolCall(f"call_{uuid.uuid4().hex[:24]}", data["name"], json.dumps(args, ensure_ascii=False))
