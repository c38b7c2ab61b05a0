"""Request bodies of the brain server (pydantic): the OpenAI chat-completions subset and the task endpoints.

Unknown OpenAI fields are accepted and ignored (clients send many); values we act on are validated.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChatMessage(BaseModel):
    """One chat message; ``content`` is text or a list of OpenAI content parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["function"] = "function"
    function: ToolFunction


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions`` body."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=10_000)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=1)
    tools: list[Tool] | None = Field(default=None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    chat_template_kwargs: dict[str, Any] | None = None  # vLLM-style: {"enable_thinking": true}

    @field_validator("stop")
    @classmethod
    def _stops(cls, value):
        stops = [value] if isinstance(value, str) else (value or [])
        if len(stops) > 8 or any(not s or len(s) > 64 for s in stops):
            raise ValueError("stop: at most 8 non-empty strings of up to 64 characters")
        return stops

    def wanted_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def thinking(self, default: bool) -> bool:
        value = (self.chat_template_kwargs or {}).get("enable_thinking")
        return default if value is None else bool(value)


class TaskRequest(BaseModel):
    """Body of the RoboBrain task endpoints (``/v1/robobrain/<task>``)."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, description="base64 data URL or a local file path")
    text: str = Field(min_length=1, max_length=2000, description="object / region / task description")
    model: str | None = None
    enable_thinking: bool | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    annotate: bool = Field(default=False, description="also return the image with the result drawn on it")
