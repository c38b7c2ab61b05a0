"""Bad input gets a clear 4xx with an OpenAI-style error body, and the server keeps serving."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest
from brain_server_rig import IMAGE_URL, MODEL, start_server
from openai import OpenAI


def post(server, path: str, body: dict | bytes, **kw) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.post(f"{server.url}{path}", content=body, headers={"content-type": "application/json"},
                          timeout=60, **kw)
    return httpx.post(f"{server.url}{path}", json=body, timeout=60, **kw)


def chat(messages, **kw) -> dict:
    return {"model": MODEL, "messages": messages, "max_tokens": 4, **kw}


@pytest.mark.parametrize("body, status, code", [
    (chat([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]),
     400, "bad_image"),
    (chat([{"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(b"GIF89a-broken").decode()}}]}]), 400, "bad_image"),
    (chat([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]}]),
     400, "bad_image"),
    (chat([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "/no/such/file.png"}}]}]),
     400, "bad_image"),
    ({**chat([{"role": "user", "content": "hi"}]), "model": "gpt-4"}, 404, "model_not_found"),
    (chat([{"role": "user", "content": "hi"}], max_tokens=100_000), 400, "prompt_too_long"),
    (chat([{"role": "user", "content": "word " * 5000}]), 400, "prompt_too_long"),
    (chat([{"role": "pirate", "content": "arr"}]), 400, "invalid_request"),
    (chat([]), 400, "invalid_request"),
    (chat([{"role": "user", "content": "hi"}], temperature=7), 400, "invalid_request"),
    (chat([{"role": "user", "content": [{"type": "video", "video": "x"}]}]), 400, "bad_messages"),
    (chat([{"role": "user", "content": "hi"}], stop=["x" * 100]), 400, "invalid_request"),
])
def test_chat_errors(brain_server, body, status, code):
    resp = post(brain_server, "/v1/chat/completions", body)
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code and err["message"]


def test_task_endpoint_errors(brain_server):
    bad = post(brain_server, "/v1/robobrain/grounding", {"image": "data:image/png;base64,AAAA", "text": "cup"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_image"
    unknown = post(brain_server, "/v1/robobrain/grounding", {"image": IMAGE_URL, "text": "cup", "model": "other"})
    assert unknown.status_code == 404
    extra = post(brain_server, "/v1/robobrain/grounding", {"image": IMAGE_URL, "text": "cup", "evil": 1})
    assert extra.status_code == 400
    assert post(brain_server, "/v1/robobrain/dance", {"image": IMAGE_URL, "text": "x"}).status_code == 404


def test_malformed_json_and_oversized_body(brain_dir):
    server, _ = start_server(brain_dir, max_body_bytes=4096, max_seq_len=256)
    try:
        assert post(server, "/v1/chat/completions", b"{not json").status_code == 400
        big = post(server, "/v1/chat/completions", chat([{"role": "user", "content": "x" * 10_000}]))
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
        client = OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "y " * 300}])
        ok = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        assert ok.choices[0].finish_reason in ("stop", "length")  # still serving after the errors
    finally:
        server.stop()


def test_timeouts_and_full_queue_are_reported(brain_dir):
    from roboos.brain.server.batcher import QueueFullError
    from roboos.brain.server.errors import to_api_error

    assert to_api_error(QueueFullError("full")).status == 503
    server, _app = start_server(brain_dir, request_timeout_s=0.001, max_queue=1)
    try:
        resp = post(server, "/v1/chat/completions", chat([{"role": "user", "content": "hi"}], max_tokens=200))
        assert resp.status_code == 504 and resp.json()["error"]["code"] == "timeout"
        health = httpx.get(f"{server.url}/health", timeout=10).json()
        assert health["status"] == "ok"
    finally:
        server.stop()


@pytest.mark.parametrize("path, body, status", [
    ("/v1/chat/completions", b"\xff\xfe\x00not utf-8", 400),
    ("/v1/chat/completions", b"{not json", 400),
    ("/v1/robobrain/pointing", b"\x80\x81", 400),
    ("/v1/no/such/route", b"{}", 404),
])
def test_framework_refusals_have_the_openai_error_shape(brain_server, path, body, status):
    resp = post(brain_server, path, body)
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["message"] and err["type"] == "invalid_request_error" and err["code"]
    assert "detail" not in resp.json()
    wrong_method = httpx.get(f"{brain_server.url}/v1/chat/completions", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_local_image_paths_are_refused_by_default(brain_server, tmp_path):
    from brain_server_rig import scene_image

    from roboos.brain.server.settings import ServerSettings

    assert ServerSettings(model="x").allow_file_images is False
    path = tmp_path / "scene.png"
    scene_image().save(path)
    body = chat([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": str(path)}},
                                              {"type": "text", "text": "what is this?"}]}])
    resp = post(brain_server, "/v1/chat/completions", body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_image"
    assert "local file paths" in resp.json()["error"]["message"]
