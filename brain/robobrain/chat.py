"""Turn OpenAI-style chat messages into a RoboBrain prompt (chat template text + decoded images)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image
from roboos.brain.robobrain.images import ImageLimits, load_image
from roboos.brain.robobrain.thinking import THINK_OPEN, generation_prefix
from roboos.brain.robobrain.tools import render_tool_calls, render_tool_response, tools_system_text

DEFAULT_SYSTEM = "You are a helpful assistant."
ROLES = {"system", "user", "assistant", "tool"}


class BadMessagesError(ValueError):
    """The chat messages are malformed (role, content part type, empty conversation)."""

    code = "bad_messages"


@dataclass
class PreparedPrompt:
    """Prompt text ready for the processor, its images, and whether it ends inside ``<think>``."""

    text: str
    images: list[Image.Image] = field(default_factory=list)
    in_thinking: bool = False


def _content_parts(content, limits: ImageLimits, images: list[Image.Image]) -> list[dict]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise BadMessagesError("message content must be a string or a list of parts")
    parts = []
    for part in content:
        if not isinstance(part, dict):
            raise BadMessagesError("each content part must be an object")
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind in ("image_url", "image"):
            ref = part.get("image_url") if kind == "image_url" else part.get("image")
            if isinstance(ref, dict):
                ref = ref.get("url")
            images.append(load_image(ref, limits))
            parts.append({"type": "image"})
        else:
            raise BadMessagesError(f"unsupported content part type {kind!r}")
    return parts


def _text_of(parts: list[dict]) -> str:
    return "".join(p["text"] for p in parts if p["type"] == "text")


def to_template_messages(messages: list[dict], tools: list[dict] | None, limits: ImageLimits
                         ) -> tuple[list[dict], list[Image.Image]]:
    """Template-ready messages (tool calls/results rendered as text) and the images in order."""
    if not messages:
        raise BadMessagesError("messages must not be empty")
    images: list[Image.Image] = []
    out: list[dict] = []
    for msg in messages:
        role = msg.get("role")
        if role not in ROLES:
            raise BadMessagesError(f"unknown role {role!r}")
        parts = _content_parts(msg.get("content"), limits, images)
        if role == "assistant" and msg.get("tool_calls"):
            parts.append({"type": "text", "text": ("\n" if parts else "") + render_tool_calls(msg["tool_calls"])})
        if role == "tool":
            role, parts = "user", [{"type": "text", "text": render_tool_response(_text_of(parts))}]
        if role == "system" and any(p["type"] == "image" for p in parts):
            raise BadMessagesError("system messages cannot carry images")
        out.append({"role": role, "content": parts})
    if tools:
        block = tools_system_text(tools)
        if out[0]["role"] == "system":
            out[0]["content"] = [{"type": "text", "text": f"{_text_of(out[0]['content'])}\n\n{block}".strip()}]
        else:
            out.insert(0, {"role": "system", "content": [{"type": "text", "text": f"{DEFAULT_SYSTEM}\n\n{block}"}]})
    return out, images


def build_prompt(processor, messages: list[dict], *, tools: list[dict] | None = None, thinking_model: bool = False,
                 enable_thinking: bool = False, limits: ImageLimits | None = None) -> PreparedPrompt:
    """Render ``messages`` with the model's chat template and RoboBrain's thinking prefix."""
    template_messages, images = to_template_messages(messages, tools, limits or ImageLimits())
    if template_messages[-1]["role"] == "assistant":
        raise BadMessagesError("the last message must not be from the assistant")
    text = processor.apply_chat_template(template_messages, tokenize=False, add_generation_prompt=True)
    prefix = generation_prefix(thinking_model, enable_thinking)
    return PreparedPrompt(text + prefix, images, in_thinking=prefix == THINK_OPEN)
