"""FastAPI app of the brain server: OpenAI-compatible chat completions (with SSE streaming and tools),
``/v1/models``, ``/health`` and the RoboBrain task endpoints ``/v1/robobrain/{task}``."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from roboos.brain.robobrain.images import ImageLimits
from roboos.brain.robobrain.prompts import Task
from roboos.brain.server.errors import APIError, UnknownModelError, http_api_error, to_api_error
from roboos.brain.server.schemas import ChatCompletionRequest, TaskRequest
from roboos.brain.server.settings import ServerSettings
from roboos.brain.server.tasks import run_task
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("roboos.brain.server")


class TokenMiddleware:
    """Require ``Authorization: Bearer <api_key>`` on every route but ``/health`` (401 otherwise)."""

    def __init__(self, app, api_key: str) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") == "/health":
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not hmac.compare_digest(given, self.expected):
            return await _send_error(send, APIError(401, "missing or wrong API key", type_="authentication_error",
                                                    code="invalid_api_key"))
        return await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 (checks Content-Length and the streamed body)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _send_error(send, APIError(413, f"request body over {self.max_bytes} bytes",
                                                    code="request_too_large"))
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _send_error(send, APIError(413, f"request body over {self.max_bytes} bytes", code="request_too_large"))


class _BodyTooLarge(Exception):
    pass


async def _send_error(send, err: APIError) -> None:
    body = json.dumps(err.body()).encode()
    await send({"type": "http.response.start", "status": err.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _sse(chunks: AsyncIterator[dict]) -> AsyncIterator[bytes]:
    async def gen():
        try:
            async for chunk in chunks:
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
        except Exception as exc:  # the stream already started: report in-band, then end it
            err = to_api_error(exc)
            if err.status >= 500:
                log.exception("stream failed")
            yield f"data: {json.dumps(err.body())}\n\n".encode()
        yield b"data: [DONE]\n\n"
    return gen()


def create_app(backend, settings: ServerSettings) -> FastAPI:
    """The ASGI app around a backend (:class:`EmbeddedBackend` or :class:`VllmBackend`)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await backend.close()

    app = FastAPI(title="RoboOS brain (RoboBrain 2.0)", version="0.1.0", lifespan=lifespan)
    app.state.backend = backend
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.api_key:
        app.add_middleware(TokenMiddleware, api_key=settings.api_key)
    limits = ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels,
                         allow_files=settings.allow_file_images, roots=tuple(settings.image_roots))
    served = [backend.name]

    def check_model(name: str | None) -> None:
        if name is not None and name not in served:
            raise UnknownModelError(name, served)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        err = APIError(400, f"invalid request: {where}: {first.get('msg', 'bad value')}", param=where or None)
        return JSONResponse(err.body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        """FastAPI's own refusals (a body that is not UTF-8/JSON, unknown route or method) in the OpenAI shape."""
        err = http_api_error(exc.status_code, str(exc.detail))
        return JSONResponse(err.body(), status_code=err.status, headers=exc.headers)

    async def _errors(_request: Request, exc: Exception):
        err = to_api_error(exc)
        if err.status >= 500:
            log.error("request failed: %s", exc, exc_info=exc)
        return JSONResponse(err.body(), status_code=err.status)

    for kind in (APIError, ValueError, TimeoutError, RuntimeError, Exception):
        app.add_exception_handler(kind, _errors)

    @app.get("/health")
    async def health():
        return await backend.health()

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": backend.models()}

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatCompletionRequest):
        check_model(req.model)
        if req.stream:
            chunks = await backend.chat_stream(req)
            return StreamingResponse(_sse(chunks), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return await backend.chat(req)

    def task_route(task: Task):
        async def endpoint(body: TaskRequest):
            check_model(body.model)
            return await run_task(backend, task, body, limits, settings.enable_thinking)

        endpoint.__name__ = f"robobrain_{task.value}"
        endpoint.__doc__ = f"RoboBrain {task.value}: image + text in, parsed {task.value} result out."
        return endpoint

    for task in Task:
        app.post(f"/v1/robobrain/{task.value}", name=f"robobrain_{task.value}")(task_route(task))
    return app
