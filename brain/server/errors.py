"""Typed API errors and their HTTP mapping (OpenAI error JSON: ``{"error": {message, type, code, param}}``)."""

from __future__ import annotations

from roboos.brain.engine import EngineCapacityError
from roboos.brain.robobrain.chat import BadMessagesError
from roboos.brain.robobrain.images import BadImageError
from roboos.brain.robobrain.parsers import AnswerParseError
from roboos.brain.robobrain.runtime import PromptTooLongError
from roboos.brain.server.batcher import QueueFullError, RequestTimeoutError


class APIError(Exception):
    """An error with an HTTP status, an OpenAI error type and a stable code."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", code: str = "invalid_request",
                 param: str | None = None, extra: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self) -> dict:
        err = {"message": self.message, "type": self.type, "code": self.code, "param": self.param}
        err.update(self.extra)
        return {"error": err}


class UnknownModelError(APIError):
    def __init__(self, name: str, served: list[str]) -> None:
        super().__init__(404, f"model {name!r} is not served here (available: {', '.join(served)})",
                         code="model_not_found", param="model")


_HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
               415: "unsupported_media_type"}


def http_api_error(status: int, detail: str) -> APIError:
    """An :class:`APIError` for a plain HTTP refusal of the framework (bad body, unknown route, ...)."""
    type_ = "invalid_request_error" if 400 <= status < 500 else "server_error"
    return APIError(status, detail or "request refused", type_=type_, code=_HTTP_CODES.get(status, f"http_{status}"))


def to_api_error(exc: BaseException) -> APIError:
    """Map a domain error to its API error (unknown exceptions become a 500 without internals)."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, (BadImageError, BadMessagesError)):
        return APIError(400, str(exc), code=exc.code)
    if isinstance(exc, (PromptTooLongError, EngineCapacityError)):
        return APIError(400, str(exc), code="prompt_too_long", param="messages")
    if isinstance(exc, AnswerParseError):
        return APIError(422, f"could not parse the model's {exc.task} answer: {exc}", type_="answer_parse_error",
                        code=exc.code, extra={"raw": exc.raw[:4000]})
    if isinstance(exc, QueueFullError):
        return APIError(503, str(exc), type_="server_overloaded", code=exc.code)
    if isinstance(exc, (RequestTimeoutError, TimeoutError)):
        return APIError(504, str(exc) or "request timed out", type_="timeout", code="timeout")
    if isinstance(exc, ValueError):
        return APIError(400, str(exc))
    return APIError(500, f"internal error: {type(exc).__name__}", type_="server_error", code="internal_error")
