"""The vLLM backend: launch ``vllm serve`` with tuned engine arguments, or attach to a running
vLLM / FlagScale OpenAI-compatible endpoint, and relay requests to it (responses pass through unchanged)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator

import httpx
from roboos.brain.server.errors import APIError
from roboos.brain.server.schemas import ChatCompletionRequest
from roboos.brain.server.settings import ServerSettings, VllmSettings


class VllmUnavailableError(RuntimeError):
    """vLLM could not be launched or reached."""

    code = "vllm_unavailable"


def vllm_command(model: str, served_name: str, port: int, cfg: VllmSettings, quant: str = "none") -> list[str]:
    """The ``vllm serve`` command line for RoboBrain (Qwen2.5-VL) with the configured engine arguments."""
    cmd = [cfg.executable, "serve", model, "--host", "127.0.0.1", "--port", str(port),
           "--served-model-name", served_name, "--dtype", cfg.dtype,
           "--tensor-parallel-size", str(cfg.tensor_parallel_size), "--max-num-seqs", str(cfg.max_num_seqs),
           "--max-model-len", str(cfg.max_model_len), "--gpu-memory-utilization", str(cfg.gpu_memory_utilization),
           "--enable-auto-tool-choice", "--tool-call-parser", cfg.tool_call_parser,
           "--limit-mm-per-prompt", json.dumps({"image": 4}), "--trust-remote-code"]
    cmd.append("--enable-chunked-prefill" if cfg.enable_chunked_prefill else "--no-enable-chunked-prefill")
    if quant == "w8a16":  # int8 weight-only checkpoints (compressed-tensors) are detected from the model config
        cmd += ["--quantization", "compressed-tensors"]
    if cfg.api_key:
        cmd += ["--api-key", cfg.api_key]
    return cmd + list(cfg.extra_args)


class VllmBackend:
    """Relays OpenAI requests to a vLLM endpoint it launched or attached to."""

    kind = "vllm"

    def __init__(self, settings: ServerSettings, base_url: str, process: subprocess.Popen | None = None) -> None:
        self.settings = settings
        self.name = settings.model_name()
        self.base_url = base_url.rstrip("/")
        self.process = process
        headers = {"Authorization": f"Bearer {settings.vllm.api_key}"} if settings.vllm.api_key else {}
        self.client = httpx.AsyncClient(base_url=self.base_url, headers=headers,
                                        timeout=httpx.Timeout(settings.request_timeout_s, connect=10.0))
        self._upstream_name: str | None = None

    # ------------------------------------------------------------------------------------ lifecycle
    @classmethod
    def launch(cls, settings: ServerSettings) -> VllmBackend:
        """Start ``vllm serve`` and wait until it answers (or attach when ``attach_url`` is set)."""
        cfg = settings.vllm
        if cfg.attach_url:
            backend = cls(settings, cfg.attach_url)
            backend._wait_ready(timeout=30.0, process=None)
            return backend
        if shutil.which(cfg.executable) is None:
            raise VllmUnavailableError(
                f"{cfg.executable!r} is not installed; `pip install vllm` or pass --vllm-url to attach to a running endpoint")
        from roboos.brain.server.ports import free_port

        port = cfg.port or free_port()
        cmd = vllm_command(settings.model, settings.model_name(), port, cfg, settings.quant)
        process = subprocess.Popen(cmd, start_new_session=True)
        backend = cls(settings, f"http://127.0.0.1:{port}", process)
        try:
            backend._wait_ready(timeout=cfg.startup_timeout_s, process=process)
        except Exception:
            backend.terminate()
            raise
        return backend

    def _wait_ready(self, timeout: float, process: subprocess.Popen | None) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise VllmUnavailableError(f"vllm serve exited with code {process.returncode}")
            try:
                resp = httpx.get(f"{self.base_url}/v1/models", timeout=5.0, headers=self.client.headers)
                if resp.status_code == 200:
                    data = resp.json().get("data") or []
                    self._upstream_name = data[0]["id"] if data else None
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(1.0)
        raise VllmUnavailableError(f"vLLM endpoint {self.base_url} not ready after {timeout:.0f}s ({last})")

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    async def close(self) -> None:
        await self.client.aclose()
        await asyncio.to_thread(self.terminate)

    # ------------------------------------------------------------------------------------- requests
    def models(self) -> list[dict]:
        return [{"id": self.name, "object": "model", "created": 0, "owned_by": "vllm",
                 "max_model_len": self.settings.vllm.max_model_len}]

    async def health(self) -> dict:
        try:
            resp = await self.client.get("/v1/models", timeout=5.0)
            ok = resp.status_code == 200
        except httpx.HTTPError:
            ok = False
        return {"status": "ok" if ok else "degraded", "backend": self.kind, "upstream": self.base_url,
                "model": self.name}

    def vision_input_size(self, size: tuple[int, int]) -> tuple[int, int]:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

        h, w = smart_resize(size[1], size[0], factor=28, min_pixels=self.settings.vision_min_pixels,
                            max_pixels=self.settings.vision_max_pixels)
        return w, h

    def _payload(self, req: ChatCompletionRequest) -> dict:
        body = req.model_dump(exclude_none=True)
        body["model"] = self._upstream_name or self.name
        return body

    def _raise_for(self, resp: httpx.Response, text: str) -> None:
        try:
            err = json.loads(text).get("error") or {}
            message = err.get("message") or text
        except (ValueError, AttributeError):
            message = text
        raise APIError(resp.status_code if 400 <= resp.status_code < 600 else 502, f"vLLM: {message}"[:2000],
                       type_="upstream_error", code="upstream_error")

    async def chat(self, req: ChatCompletionRequest) -> dict:
        body = self._payload(req)
        body["stream"] = False
        try:
            resp = await self.client.post("/v1/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise APIError(502, f"vLLM endpoint unreachable: {exc}", type_="upstream_error", code="upstream_error") from exc
        if resp.status_code != 200:
            self._raise_for(resp, resp.text)
        data = resp.json()
        data["model"] = self.name
        return data

    async def chat_stream(self, req: ChatCompletionRequest) -> AsyncIterator[dict]:
        body = self._payload(req)
        body["stream"] = True
        request = self.client.build_request("POST", "/v1/chat/completions", json=body)
        try:
            resp = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise APIError(502, f"vLLM endpoint unreachable: {exc}", type_="upstream_error", code="upstream_error") from exc
        if resp.status_code != 200:
            text = (await resp.aread()).decode(errors="replace")
            await resp.aclose()
            self._raise_for(resp, text)
        return self._relay(resp)

    async def _relay(self, resp: httpx.Response) -> AsyncIterator[dict]:
        try:
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                chunk["model"] = self.name
                yield chunk
        finally:
            await resp.aclose()
