"""The unmodified openpi-client drives the RoboOS policy server over the websocket endpoint."""

from __future__ import annotations

import concurrent.futures
import urllib.request

import numpy as np
import pytest

openpi_client = pytest.importorskip("openpi_client")
from openpi_client import websocket_client_policy  # noqa: E402


def _client(served):
    return websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=served.server.ws.port)


def test_metadata_and_inference(served, good_obs):
    client = _client(served)
    meta = client.get_server_metadata()
    assert meta["policy"] == "pi0" and meta["action_horizon"] == 6
    out = client.infer(good_obs)
    assert out["actions"].shape == (6, 8) and out["actions"].dtype == np.float32
    assert set(out["server_timing"]) >= {"infer_ms"}
    out2 = client.infer(good_obs)
    assert "prev_total_ms" in out2["server_timing"]


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda o: o.pop("observation/image"), "missing camera"),
        (lambda o: o.__setitem__("observation/image", np.zeros((4, 4), np.uint8)), "3 dimensions"),
        (lambda o: o.__setitem__("observation/image", np.zeros((8, 8, 3), np.int32)), "dtype"),
        (lambda o: o.__setitem__("observation/state", np.zeros(99, np.float32)), "at most"),
        (lambda o: o.__setitem__("images", {"nope": np.zeros((8, 8, 3), np.uint8)}), "unknown camera"),
    ],
)
def test_malformed_observation_gets_error_and_connection_survives(served, good_obs, mutate, needle):
    client = _client(served)
    bad = dict(good_obs)
    mutate(bad)
    with pytest.raises(RuntimeError, match=needle):
        client.infer(bad)
    assert client.infer(good_obs)["actions"].shape == (6, 8)  # same connection keeps working


def test_garbage_frame_and_healthz(served, good_obs):
    client = _client(served)
    client._ws.send(b"\xc1\xff not msgpack")
    reply = client._ws.recv()
    assert isinstance(reply, str) and reply.startswith("bad_request")
    client._ws.send(b"\x81\xa3obs\x84\xab__ndarray__\xc3\xa4data\xc4\x01x\xa5dtype\xa2|O\xa5shape\x91\x01")
    assert "not allowed" in client._ws.recv()
    assert client.infer(good_obs)["actions"].shape == (6, 8)
    url = f"http://127.0.0.1:{served.server.ws.port}/healthz"
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200


def test_concurrent_clients_are_batched(served, good_obs):
    before = served.server.worker.stats.batches
    clients = [_client(served) for _ in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda c: c.infer(good_obs), clients))
    assert all(o["actions"].shape == (6, 8) for o in outs)
    stats = served.server.worker.stats
    assert stats.batches - before < 4 or stats.max_batch > 1


def test_api_key_is_enforced(tiny_pi0_policy, good_obs):
    from roboos.brain.policy_server.server import BackgroundPolicyServer
    from websockets.exceptions import InvalidStatus

    with BackgroundPolicyServer(tiny_pi0_policy, port=0, zmq_bind=None, api_key="s3cret") as srv:
        port = srv.server.ws.port
        with pytest.raises(InvalidStatus, match="401"):
            websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=port)
        with pytest.raises(InvalidStatus, match="401"):
            websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=port, api_key="wrong")
        client = websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=port, api_key="s3cret")
        assert client.infer(good_obs)["actions"].shape == (6, 8)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200  # health needs no key
