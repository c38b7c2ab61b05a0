"""Optional TLS: the file checks of ``roboos.tls``, and HTTPS / WSS spoken by the policy server's websocket,
the dashboard and the brain server (self-signed certificate made offline with ``cryptography``)."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from roboos.tls import TLSConfigError, TLSFiles, check_tls_files, make_self_signed


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


def client_context(tls: TLSFiles) -> ssl.SSLContext:
    """A client context trusting only the self-signed certificate."""
    return ssl.create_default_context(cafile=str(tls.cert))


def test_self_signed_pair_passes_the_checks(tls: TLSFiles) -> None:
    assert (tls.key.stat().st_mode & 0o777) == 0o600
    assert check_tls_files(None, None) is None
    assert check_tls_files(tls.cert, tls.key) == tls


def test_bad_tls_settings_are_refused_with_the_reason(tls: TLSFiles, tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match="both"):
        check_tls_files(tls.cert, None, owner="x")
    with pytest.raises(TLSConfigError, match="cannot read the TLS certificate"):
        check_tls_files(tmp_path / "missing.pem", tls.key)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(TLSConfigError, match="not a PEM file"):
        check_tls_files(tls.cert, junk)
    loose = tmp_path / "loose.pem"
    loose.write_bytes(tls.key.read_bytes())
    loose.chmod(0o644)
    with pytest.raises(TLSConfigError, match="chmod 600"):
        check_tls_files(tls.cert, loose)
    other = make_self_signed(tmp_path / "other")
    with pytest.raises(TLSConfigError, match="do not load together"):
        check_tls_files(tls.cert, other.key)


def test_policy_websocket_speaks_wss(tls: TLSFiles) -> None:
    from websockets.sync.client import connect

    from roboos.brain.policies.pi0.policy import Pi0Policy
    from roboos.brain.policy_server.codec import unpack
    from roboos.brain.policy_server.server import BackgroundPolicyServer

    policy = Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0)
    with BackgroundPolicyServer(policy, port=0, zmq_bind=None, tls=tls) as server:
        url = server.addresses.websocket
        assert url.startswith("wss://127.0.0.1:")
        with connect(url, ssl=client_context(tls), open_timeout=10) as conn:
            assert isinstance(unpack(conn.recv(timeout=10)), dict)  # the policy metadata frame
        health = httpx.get(url.replace("wss", "https", 1) + "/healthz", verify=client_context(tls), timeout=10)
        assert health.status_code in (200, 503)
        with pytest.raises(Exception):  # noqa: B017 - plain ws:// to a TLS port does not handshake
            with connect(url.replace("wss", "ws", 1), open_timeout=3):
                pass


def test_dashboard_speaks_https(tls: TLSFiles) -> None:
    from roboos.dashboard.config import DashboardConfig
    from roboos.dashboard.server import DashboardError, start_dashboard
    from roboos.master import CloudConfig
    from roboos.master.master import Master

    async def main() -> None:
        master = Master(CloudConfig(bind="tcp://127.0.0.1:0"))
        await master.start()
        try:
            config = DashboardConfig(bind="127.0.0.1:0", token_env=None, tls_cert=str(tls.cert), tls_key=str(tls.key))
            dash = await start_dashboard(master, config)
            try:
                assert dash.url.startswith("https://")
                async with httpx.AsyncClient(verify=client_context(tls)) as client:
                    resp = await client.get(dash.url + "api/health", timeout=10)
                assert resp.status_code == 200
            finally:
                await dash.stop()
            with pytest.raises(DashboardError, match="both"):
                await start_dashboard(master, DashboardConfig(bind="127.0.0.1:0", token_env=None,
                                                              tls_cert=str(tls.cert)))
        finally:
            await master.stop()

    asyncio.run(main())


def test_serve_brain_refuses_unusable_tls_files_before_loading(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "roboos.cli.main", "serve", "brain", "--model", "/no/such/model",
                           "--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(tmp_path / "nope.key")],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2 and "cannot read the TLS certificate" in done.stdout + done.stderr


def test_serve_policy_refuses_a_key_without_a_certificate(tls: TLSFiles) -> None:
    done = subprocess.run([sys.executable, "-m", "roboos.cli.main", "serve", "policy", "--policy", "pi0",
                           "--preset", "tiny", "--tls-key", str(tls.key)],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2 and "both a certificate" in done.stdout + done.stderr
