"""vLLM backend: the launch command, a clear error without vLLM, and attach mode relaying to a running
OpenAI-compatible endpoint (here: a second, embedded brain server standing in for vLLM/FlagScale)."""

from __future__ import annotations

import httpx
import pytest
from brain_server_rig import MODEL, ServerThread
from openai import OpenAI
from roboos.brain.server.settings import ServerSettings, VllmSettings
from roboos.brain.server.vllm_backend import VllmUnavailableError, vllm_command


def test_vllm_command_carries_the_engine_arguments():
    cfg = VllmSettings(tensor_parallel_size=2, max_num_seqs=32, max_model_len=4096, enable_chunked_prefill=True)
    cmd = vllm_command("BAAI/RoboBrain2.0-7B", "robobrain", 8123, cfg, quant="w8a16")
    joined = " ".join(cmd)
    assert cmd[:3] == ["vllm", "serve", "BAAI/RoboBrain2.0-7B"]
    for part in ("--tensor-parallel-size 2", "--max-num-seqs 32", "--max-model-len 4096", "--enable-chunked-prefill",
                 "--enable-auto-tool-choice", "--tool-call-parser hermes", "--served-model-name robobrain",
                 "--port 8123", "--quantization compressed-tensors"):
        assert part in joined
    assert "--no-enable-chunked-prefill" in vllm_command("m", "m", 1, VllmSettings(enable_chunked_prefill=False))


def test_missing_vllm_is_a_clear_error():
    from roboos.brain.server.vllm_backend import VllmBackend

    settings = ServerSettings(model="x", backend="vllm", vllm=VllmSettings(executable="vllm-not-installed-here"))
    with pytest.raises(VllmUnavailableError, match="not installed"):
        VllmBackend.launch(settings)


def test_attach_relays_chat_stream_and_tasks(brain_server):
    from roboos.brain.server.app import create_app
    from roboos.brain.server.vllm_backend import VllmBackend

    settings = ServerSettings(model="robobrain-vllm", backend="vllm",
                              vllm=VllmSettings(attach_url=f"{brain_server.url}"))
    front = ServerThread(create_app(VllmBackend.launch(settings), settings))
    try:
        client = OpenAI(base_url=f"{front.url}/v1", api_key="x", max_retries=0)
        direct = OpenAI(base_url=f"{brain_server.url}/v1", api_key="x", max_retries=0)
        messages = [{"role": "user", "content": "where is the cup?"}]
        relayed = client.chat.completions.create(model="robobrain-vllm", messages=messages, max_tokens=6)
        original = direct.chat.completions.create(model=MODEL, messages=messages, max_tokens=6)
        assert relayed.model == "robobrain-vllm"
        assert relayed.choices[0].message.content == original.choices[0].message.content
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="robobrain-vllm", messages=messages, max_tokens=6, stream=True) if c.choices)
        assert streamed.strip() == (original.choices[0].message.content or "").strip()
        health = httpx.get(f"{front.url}/health", timeout=10).json()
        assert health["backend"] == "vllm" and health["status"] == "ok"
        bad = httpx.post(f"{front.url}/v1/chat/completions", timeout=30,
                         json={"model": "robobrain-vllm", "messages": messages, "max_tokens": 10**6})
        assert bad.status_code == 400 and "vLLM" in bad.json()["error"]["message"]
    finally:
        front.stop()


def test_flaggems_switch_says_why_it_is_off():
    import importlib.util

    from roboos.brain.server.flaggems import FlagGemsUnavailableError, enable_flaggems, flaggems_status

    if importlib.util.find_spec("flag_gems") is not None:
        pytest.skip("flag_gems is installed here")
    assert flaggems_status() == {"installed": False}
    status = enable_flaggems(strict=False)
    assert status["enabled"] is False and "pip install flag-gems" in status["reason"]
    with pytest.raises(FlagGemsUnavailableError):
        enable_flaggems(strict=True)
