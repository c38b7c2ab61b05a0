"""The dashboard's FastAPI app: JSON API over a running :class:`~roboos.master.Master`, live updates as
server-sent events, camera frames and the top-down world picture (:mod:`roboos.dashboard.cameras`), and
the static single-page UI (plain HTML/JS/CSS)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from roboos.dashboard import snapshot
from roboos.dashboard.cameras import camera_router
from roboos.dashboard.latency import RttSampler
from roboos.master.models import UnknownTaskError

TOKEN_COOKIE = "roboos_dashboard_token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_INSTRUCTION = 2000
HTTP_ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                    405: "method_not_allowed", 413: "too_large", 503: "unavailable"}


class SubmitRequest(BaseModel):
    """Body of ``POST /api/tasks``."""

    model_config = ConfigDict(extra="forbid")
    instruction: str = Field(min_length=1, max_length=MAX_INSTRUCTION)


def create_app(
    master: Any,
    *,
    token: str | None = None,
    sampler: RttSampler | None = None,
    store: Any = None,
    interval_s: float = 0.5,
    loopback_only: bool = False,
) -> FastAPI:
    """The dashboard app for ``master``; with ``token`` every request must carry it (header, cookie or
    ``?token=`` once on the page, which sets the cookie). ``loopback_only`` (a loopback bind) also refuses
    requests whose ``Host`` is not a loopback name (DNS rebinding); cross-origin POSTs are always refused."""
    app = FastAPI(title="RoboOS dashboard", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    closing = app.state.closing = asyncio.Event()  # set by DashboardServer.stop: event streams end
    sampler = sampler or RttSampler(master.channel, interval_s=interval_s)
    static_dir = resources.files("roboos.dashboard") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    retriever: dict[str, Any] = {}

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        if token is None or request.url.path in ("/favicon.ico", "/api/health"):
            return await call_next(request)
        given = _bearer(request) or request.cookies.get(TOKEN_COOKIE) or ""
        query = request.query_params.get("token", "")
        if request.url.path == "/" and query and hmac.compare_digest(query.encode(), token.encode()):
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return resp
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return await call_next(request)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "unauthorized", "message": "a dashboard token is required"}, 401)
        return HTMLResponse(_UNAUTHORIZED_PAGE, 401)

    @app.middleware("http")  # added last, so it runs first
    async def same_origin(request: Request, call_next: Any) -> Response:
        host = request.headers.get("host", "")
        if loopback_only and urlsplit("//" + host).hostname not in LOOPBACK_NAMES:
            return JSONResponse(
                {
                    "error": "forbidden",
                    "message": f"unexpected Host '{host}' for a loopback dashboard (DNS rebinding guard)",
                },
                403,
            )
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD") and origin and urlsplit(origin).netloc != host:
            return JSONResponse(
                {"error": "forbidden", "message": f"cross-origin request from {origin} refused"}, 403
            )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return JSONResponse({"error": "bad_request", "message": problems}, 400)

    @app.exception_handler(StarletteHTTPException)  # our 4xx and the router's own 404/405
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "error")
        return JSONResponse({"error": code, "message": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(UnknownTaskError)
    async def unknown_task(_request: Request, exc: UnknownTaskError) -> JSONResponse:
        return JSONResponse({"error": "not_found", "message": str(exc)}, 404)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(
            (static_dir / "index.html").read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"}
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response((static_dir / "favicon.svg").read_bytes(), media_type="image/svg+xml")

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/api/overview")
    async def overview() -> dict[str, Any]:
        history = master.persistence.history
        return {
            "cloud": master.config.name,
            "planner": getattr(master.planner, "name", type(master.planner).__name__),
            "endpoint": master.channel.endpoint,
            "history": history is not None,
            "store": store is not None,
            "auth": token is not None,
        }

    @app.get("/api/robots")
    async def robots() -> list[dict[str, Any]]:
        return snapshot.robots_view(master)

    @app.get("/api/tasks")
    async def tasks() -> list[dict[str, Any]]:
        return snapshot.tasks_view(master)

    @app.post("/api/tasks", status_code=201)
    async def submit(body: SubmitRequest) -> dict[str, Any]:
        try:
            task_id = await master.submit(body.instruction)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"id": task_id}

    @app.get("/api/tasks/{task_id}")
    async def task(task_id: str) -> dict[str, Any]:
        return snapshot.task_detail(master, task_id)

    @app.post("/api/tasks/{task_id}/cancel")
    async def cancel(task_id: str) -> dict[str, Any]:
        return {"cancelled": await master.cancel(task_id)}

    @app.get("/api/tasks/{task_id}/stream")
    async def task_stream(task_id: str, request: Request) -> StreamingResponse:
        events = master.watch(task_id)  # raises UnknownTaskError -> 404 before the stream starts

        async def gen() -> AsyncIterator[str]:
            async for event in _until_disconnect(request, events.__aiter__(), closing):
                yield _sse("task", event.model_dump(mode="json"))
            yield _sse("end", {"task_id": task_id})

        return _stream(gen())

    @app.get("/api/skills")
    async def skills(q: str = "", k: int = 10) -> dict[str, Any]:
        view = snapshot.skills_view(master, store)
        view["query"] = q
        if q.strip():
            view["results"], view["search_mode"] = await asyncio.to_thread(
                _search, q, view, store, retriever, max(1, min(k, 50))
            )
        return view

    @app.get("/api/history/{task_id}")
    async def history(task_id: str) -> dict[str, Any]:
        record = master.get_task(task_id)  # 404 for an unknown task
        entries = await asyncio.to_thread(snapshot.history_view, master.persistence.history, task_id)
        return {
            "task": snapshot.task_summary(record),
            "enabled": master.persistence.history is not None,
            "entries": entries,
        }

    app.include_router(camera_router(master))

    @app.get("/api/channel")
    async def channel() -> dict[str, Any]:
        sampler.sample_once()
        return snapshot.channel_view(master, sampler)

    @app.get("/api/events")
    async def events(request: Request) -> StreamingResponse:
        async def gen() -> AsyncIterator[str]:
            last: dict[str, str] = {}
            while not closing.is_set() and not await request.is_disconnected():
                for name, value in (
                    ("robots", snapshot.robots_view(master)),
                    ("tasks", snapshot.tasks_view(master)),
                ):
                    text = json.dumps(value, default=str, sort_keys=True)
                    if last.get(name) != text:
                        last[name] = text
                        yield f"event: {name}\ndata: {text}\n\n"
                yield ": keep-alive\n\n"
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(closing.wait(), interval_s)

        return _stream(gen())

    return app


def _search(
    query: str, view: dict[str, Any], store: Any, cache: dict[str, Any], k: int
) -> tuple[list[dict], str]:
    """Rank connected skills (and the store's) for ``query``: BM25 via the skill retriever."""
    from roboos.skills.card import SkillCard

    cards = [SkillCard.model_validate(item["card"]) for item in view["connected"]]
    results: list[dict[str, Any]] = []
    try:
        from roboos.skills.retrieval.retriever import SkillRetriever

        engine = cache.setdefault("bm25", SkillRetriever(None))
        hits = [(h.card, h.score) for h in engine.retrieve(query, cards, k=k) if h.score > 0] if cards else []
        mode = "bm25"
    except ImportError:  # the skills extra (bm25s) is not installed: plain word match
        words = query.lower().split()
        hits = [(c, float(sum(w in (c.name + " " + c.description).lower() for w in words))) for c in cards]
        hits = sorted([h for h in hits if h[1] > 0], key=lambda h: -h[1])[:k]
        mode = "words"
    robots = {item["card"]["name"]: item["robots"] for item in view["connected"]}
    results += [
        {
            "source": "robots",
            "robots": robots.get(c.name, []),
            "score": round(float(s), 4),
            "card": c.model_dump(mode="json"),
        }
        for c, s in hits
    ]
    if store is not None and mode == "bm25":
        for rec, card, score in store.search(query, k=k, retriever=cache["bm25"]):
            results.append(
                {
                    "source": "store",
                    "package": f"{rec.name} {rec.version}",
                    "score": round(float(score), 4),
                    "card": card.model_dump(mode="json"),
                }
            )
    return results, mode


async def _until_disconnect(
    request: Request, it: AsyncIterator[Any], closing: asyncio.Event
) -> AsyncIterator[Any]:
    """Items of ``it`` until it ends, the client goes away or the server closes (checked every 0.5 s)."""
    while True:
        nxt = asyncio.ensure_future(it.__anext__())
        while True:
            done, _ = await asyncio.wait({nxt}, timeout=0.5)
            if done:
                break
            if closing.is_set() or await request.is_disconnected():
                nxt.cancel()
                return
        try:
            yield nxt.result()
        except StopAsyncIteration:
            return


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _stream(gen: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        gen, media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


_UNAUTHORIZED_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>RoboOS dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body style="font-family:sans-serif">
<main><h1>Token required</h1><p>This dashboard is protected. Open it as <code>/?token=&lt;token&gt;</code> with the
token from the environment variable named by <code>dashboard.token_env</code> on the cloud.</p></main></body></html>"""
