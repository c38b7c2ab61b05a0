"""`roboos serve policy` as a real process: health check, openpi client, clean shutdown; X0 served too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # starts policy servers as processes

websocket_client_policy = pytest.importorskip("openpi_client.websocket_client_policy")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("server did not become healthy")


def test_cli_serves_pi0_to_openpi_client():
    port, zport = _port(), _port()
    cmd = [
        sys.executable,
        "-m",
        "roboos.cli.main",
        "serve",
        "policy",
        "--policy",
        "pi0",
        "--preset",
        "tiny",
        "--port",
        str(port),
        "--zmq",
        f"tcp://127.0.0.1:{zport}",
        "--device",
        "cpu",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        client = websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=port)
        assert client.get_server_metadata()["policy"] == "pi0"
        obs = {
            "observation/image": np.zeros((40, 40, 3), np.uint8),
            "observation/state": np.zeros(4, np.float32),
            "prompt": "open the drawer",
        }
        assert client.infer(obs)["actions"].shape == (6, 8)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "stopped" in out


def test_x0_behind_the_openpi_endpoint(tmp_path_factory):
    from roboos.brain.policies.x0.policy import X0Policy
    from roboos.brain.policies.x0.tiny import build_tiny_x0
    from roboos.brain.policy_server.server import BackgroundPolicyServer

    policy = X0Policy.from_checkpoint(build_tiny_x0(tmp_path_factory.mktemp("x0srv")))
    with BackgroundPolicyServer(policy, port=0, zmq_bind=None) as srv:
        client = websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=srv.server.ws.port)
        meta = client.get_server_metadata()
        assert meta["policy"] == "x0" and meta["action_horizon"] == 30
        obs = {
            "images": {c: np.full((50, 60, 3), 90, np.uint8) for c in meta["cameras"]},
            "state": np.zeros(7, np.float32),
            "prompt": "wipe the table",
        }
        out = client.infer(obs)
        assert out["actions"].shape == (30, 7) and isinstance(out["subtask"], str)
        with pytest.raises(RuntimeError, match="bad_observation"):
            client.infer({"state": np.zeros(7, np.float32), "prompt": "x"})
