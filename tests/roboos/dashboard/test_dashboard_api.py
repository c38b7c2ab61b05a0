"""The dashboard's HTTP API over a real in-process Master (no robots): empty and error states, task
submission and its event stream, history, the world picture, token auth and bind rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from dashboard_testlib import make_skill_store

from roboos.dashboard import DashboardBindError, DashboardConfig, DashboardError, start_dashboard
from roboos.master import Master
from roboos.master.config import CloudConfig


@asynccontextmanager
async def dashboard(**config: Any) -> AsyncIterator[tuple[Master, Any, httpx.AsyncClient]]:
    master = Master(CloudConfig(bind="tcp://127.0.0.1:0"))
    await master.start()
    try:
        dash = await start_dashboard(master, DashboardConfig(**{"bind": "127.0.0.1:0", **config}))
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{dash.port}", timeout=10) as client:
                yield master, dash, client
        finally:
            await dash.stop()
    finally:
        await master.stop()


def run(fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(fn(), 60))


def test_empty_states_and_page() -> None:
    async def main() -> None:
        async with dashboard(token_env=None) as (_master, _dash, client):
            page = await client.get("/")
            assert page.status_code == 200 and "RoboOS" in page.text and "/static/app.js" in page.text
            for asset in ("/static/app.js", "/static/dag.js", "/static/style.css", "/favicon.ico"):
                assert (await client.get(asset)).status_code == 200, asset
            assert (await client.get("/api/robots")).json() == []
            assert (await client.get("/api/tasks")).json() == []
            skills = (await client.get("/api/skills", params={"q": "pick"})).json()
            assert skills["connected"] == [] and skills["results"] == [] and not skills["store_configured"]
            channel = (await client.get("/api/channel")).json()
            assert channel["links"] == [] and channel["rtt"]["robots"] == {}
            png = await client.get("/api/cameras/world.png")
            assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"

    run(main)


def test_bad_input_gets_clear_errors() -> None:
    async def main() -> None:
        async with dashboard(token_env=None) as (_master, _dash, client):
            for body in (
                {"instruction": ""},
                {"instruction": "x" * 2001},
                {"nope": 1},
                {"instruction": "a", "b": 2},
            ):
                resp = await client.post("/api/tasks", json=body)
                assert resp.status_code == 400 and resp.json()["error"] == "bad_request", body
            resp = await client.post(
                "/api/tasks", content=b"{not json", headers={"content-type": "application/json"}
            )
            assert resp.status_code == 400
            resp = await client.post("/api/tasks", json={"instruction": "   "})
            assert resp.status_code == 400 and resp.json()["error"] == "bad_request" and "empty" in resp.json()["message"]
            resp = await client.get("/api/no-such-endpoint")  # the router's own refusals share the error shape
            assert resp.status_code == 404 and resp.json()["error"] == "not_found"
            resp = await client.delete("/api/tasks")
            assert resp.status_code == 405 and resp.json()["error"] == "method_not_allowed"
            for path in ("/api/tasks/nope", "/api/history/nope", "/api/tasks/nope/stream"):
                resp = await client.get(path)
                assert resp.status_code == 404 and "unknown task 'nope'" in resp.json()["message"], path
            assert (await client.post("/api/tasks/nope/cancel")).status_code == 404

    run(main)


def test_submit_stream_detail_and_history() -> None:
    async def main() -> None:
        async with dashboard(token_env=None) as (_master, _dash, client):
            resp = await client.post("/api/tasks", json={"instruction": "put the apple in the sink"})
            assert resp.status_code == 201
            task_id = resp.json()["id"]
            events = []
            async with client.stream("GET", f"/api/tasks/{task_id}/stream") as stream:
                kind = None
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        events.append((kind, json.loads(line[6:])))
                        if kind == "end":
                            break
            assert events[-1][0] == "end"
            statuses = [e["status"] for k, e in events if k == "task"]
            assert statuses[-1] == "failed"  # no robot is connected: planning fails, with the reason
            detail = (await client.get(f"/api/tasks/{task_id}")).json()
            assert detail["status"] == "failed" and detail["reason"]
            history = (await client.get(f"/api/history/{task_id}")).json()
            assert history["enabled"] and history["entries"][0]["kind"] == "task.status"
            assert history["entries"][-1]["data"]["status"] == "failed"
            assert (await client.post(f"/api/tasks/{task_id}/cancel")).json() == {"cancelled": False}
            listed = (await client.get("/api/tasks")).json()
            assert [t["id"] for t in listed] == [task_id]

    run(main)


def test_token_required_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOOS_DASHBOARD_TEST_TOKEN", "s3cret-token")

    async def main() -> None:
        async with dashboard(token_env="ROBOOS_DASHBOARD_TEST_TOKEN") as (_master, dash, client):
            assert dash.token == "s3cret-token"
            assert (await client.get("/api/robots")).status_code == 401
            assert (await client.get("/")).status_code == 401
            assert (
                await client.get("/api/robots", headers={"Authorization": "Bearer wrong"})
            ).status_code == 401
            assert (
                await client.get("/api/robots", headers={"Authorization": "Bearer s3cret-token"})
            ).status_code == 200
            assert (await client.get("/?token=wrong")).status_code == 401
            login = await client.get("/?token=s3cret-token")  # sets the cookie, then the page and API work
            assert login.status_code == 303 and "roboos_dashboard_token" in login.headers["set-cookie"]
            assert (await client.get("/")).status_code == 200
            assert (await client.get("/api/tasks")).status_code == 200
            assert (await client.get("/api/health")).status_code == 200

    run(main)


def test_bind_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROBOOS_DASHBOARD_TOKEN", raising=False)

    async def main() -> None:
        master = Master(CloudConfig(bind="tcp://127.0.0.1:0"))
        await master.start()
        try:
            with pytest.raises(DashboardError, match="set an access token"):
                await start_dashboard(master, DashboardConfig(bind="0.0.0.0:0"))
            with pytest.raises(DashboardError, match="must be host:port"):
                await start_dashboard(master, DashboardConfig(bind="7780"))
            first = await start_dashboard(master, DashboardConfig(bind="127.0.0.1:0"))
            try:
                with pytest.raises(DashboardBindError, match="cannot bind"):
                    await start_dashboard(master, DashboardConfig(bind=f"127.0.0.1:{first.port}"))
            finally:
                await first.stop()
            monkeypatch.setenv("ROBOOS_DASHBOARD_TOKEN", "tok")
            exposed = await start_dashboard(master, DashboardConfig(bind="0.0.0.0:0"))
            assert exposed.token == "tok"
            await exposed.stop()
        finally:
            await master.stop()

    run(main)


def test_skill_store_browse_and_search(tmp_path: Any) -> None:
    store_path = make_skill_store(tmp_path)

    async def main() -> None:
        async with dashboard(token_env=None, skill_store=str(store_path)) as (_master, _dash, client):
            view = (await client.get("/api/skills", params={"q": "water the plants"})).json()
            assert view["store_configured"]
            assert [(p["name"], p["version"]) for p in view["store"]] == [("garden_skills", "1.0.0")]
            assert view["store"][0]["skills"][0]["name"] == "water_plant"
            hits = [(r["source"], r["card"]["name"]) for r in view["results"]]
            assert hits == [("store", "water_plant")]

    run(main)


def test_dns_rebinding_and_cross_origin_refused() -> None:
    async def main() -> None:
        async with dashboard(token_env=None) as (_master, dash, client):
            evil = await client.get("/api/robots", headers={"Host": f"evil.example:{dash.port}"})
            assert evil.status_code == 403 and "DNS rebinding" in evil.json()["message"]
            assert (
                await client.get("/api/robots", headers={"Host": f"localhost:{dash.port}"})
            ).status_code == 200
            body = {"instruction": "put the apple in the sink"}
            cross = await client.post("/api/tasks", json=body, headers={"Origin": "http://evil.example"})
            assert cross.status_code == 403 and "cross-origin" in cross.json()["message"]
            plain = await client.post(
                "/api/tasks", content=json.dumps(body), headers={"content-type": "text/plain"}
            )  # a 'simple' cross-site form post: not parsed as JSON
            assert plain.status_code == 400
            same = await client.post(
                "/api/tasks", json=body, headers={"Origin": f"http://127.0.0.1:{dash.port}"}
            )
            assert same.status_code == 201

    run(main)
