"""``roboos serve brain`` and ``roboos bench brain`` as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from roboos.brain.server.ports import free_port


@pytest.mark.slow
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_serve_brain_command(brain_dir, tmp_path, tls):
    import ssl

    from roboos.tls import make_self_signed

    port = free_port()
    args, scheme, verify = [], "http", True
    if tls:  # HTTPS with a self-signed certificate the client trusts
        files = make_self_signed(tmp_path / "tls")
        args, scheme = ["--tls-cert", str(files.cert), "--tls-key", str(files.key)], "https"
        verify = ssl.create_default_context(cafile=str(files.cert))
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "roboos.cli.main", "serve", "brain", "--model", str(brain_dir),
                             "--port", str(port), "--max-seq-len", "512", "--served-model-name", "rb-cli", *args],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{scheme}://127.0.0.1:{port}/health", timeout=2, verify=verify).json()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert health is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert health["model"] == "rb-cli"
        reply = httpx.post(f"{scheme}://127.0.0.1:{port}/v1/chat/completions", timeout=60, verify=verify,
                           json={"model": "rb-cli", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
        assert reply.status_code == 200
        if tls:  # plain HTTP to the HTTPS port gets no answer
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def test_serve_brain_reports_bad_settings():
    done = subprocess.run([sys.executable, "-m", "roboos.cli.main", "serve", "brain", "--model", "/no/such/model",
                           "--port", "0", "--backend", "tensorrt"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "backend" in (done.stdout + done.stderr)


@pytest.mark.slow
def test_bench_brain_smoke_on_cpu(tmp_path):
    out = tmp_path / "brain.json"
    done = subprocess.run([sys.executable, "-m", "roboos.cli.main", "bench", "brain", "--device", "cpu", "--preset",
                           "tiny", "--prompt-len", "8", "--new-tokens", "4", "--batch", "1", "--backend", "engine",
                           "--backend", "hf_dynamic", "--repeats", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert {r["backend"] for r in doc["results"]} == {"engine", "hf_dynamic"}
    assert doc["engine_check"]["token_agreement"] == 1.0 and doc["environment"]["torch"]
