"""Token authentication of the control plane (and of extra servicers sharing its server)."""

from __future__ import annotations

import grpc
import pytest

from roboos.controlplane.auth import bearer_metadata, is_loopback_host, split_host_port
from roboos.controlplane.client import ControlClient
from roboos.controlplane.errors import AuthenticationFailed
from roboos.controlplane.server import start_control_plane

TOKEN = "s3cret-token"


def _add_echo_service(server: grpc.aio.Server) -> None:
    """An extra (non-RoboOS) service on the same server: raw bytes in, the same bytes out."""

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server.add_generic_rpc_handlers((handler,))


@pytest.fixture(scope="module")
def secured(cloud):
    """A second control plane on the same master, with a token and an extra servicer."""
    control = cloud.run(
        start_control_plane(cloud.master, "127.0.0.1:0", token=TOKEN, extra_servicers=[_add_echo_service])
    )
    yield control
    cloud.run(control.stop(0.1))


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x"])
def test_calls_without_the_right_token_are_unauthenticated(secured, token) -> None:
    with ControlClient(secured.address, token=token) as client:
        with pytest.raises(AuthenticationFailed, match="token"):
            client.robots()
        with pytest.raises(AuthenticationFailed):
            client.submit("go to the dock")
        with pytest.raises(AuthenticationFailed):  # the server-streaming method is guarded too
            list(client.watch("anything"))


def test_the_right_token_works(secured) -> None:
    assert secured.authenticated
    with ControlClient(secured.address, token=TOKEN) as client:
        assert {r.name for r in client.robots()} == {"arm1", "rover1"}
        task_id = client.submit("go to the dock")
        assert list(client.watch(task_id))[-1].status.terminal


def test_token_from_the_environment(secured, monkeypatch) -> None:
    monkeypatch.setenv("ROBOOS_TOKEN", TOKEN)
    with ControlClient(secured.address) as client:
        assert client.robots()


def test_extra_servicers_share_the_server_and_its_auth(secured) -> None:
    with grpc.insecure_channel(secured.address) as channel:
        echo = channel.unary_unary("/test.Echo/Echo")
        assert echo(b"ping", timeout=5, metadata=bearer_metadata(TOKEN)) == b"ping"
        with pytest.raises(grpc.RpcError) as info:
            echo(b"ping", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_non_loopback_bind_is_allowed_with_a_token(cloud) -> None:
    control = cloud.run(start_control_plane(cloud.master, "0.0.0.0:0", token=TOKEN))
    try:
        port = control.address.rsplit(":", 1)[1]
        with ControlClient(f"127.0.0.1:{port}", token=TOKEN) as client:
            assert client.robots()
    finally:
        cloud.run(control.stop(0.1))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("robot-cloud.lan", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_split_host_port() -> None:
    assert split_host_port("[::1]:7701") == ("::1", 7701)
    assert split_host_port("localhost:0") == ("localhost", 0)
    for bad in ("7701", "host:", ":7701", "host:99999", "host:x"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            split_host_port(bad)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost (it is its own CA)."""
    from roboos.tls import make_self_signed

    files = make_self_signed(tmp_path_factory.mktemp("tls"))
    return {"cert": str(files.cert), "key": str(files.key)}


def test_tls_with_token(cloud, tls_files, monkeypatch) -> None:
    from roboos.controlplane.errors import ControlPlaneUnavailable

    control = cloud.run(
        start_control_plane(
            cloud.master, "127.0.0.1:0", token=TOKEN, tls_cert=tls_files["cert"], tls_key=tls_files["key"]
        )
    )
    try:
        assert control.tls
        with ControlClient(control.address, token=TOKEN, tls_ca=tls_files["cert"]) as client:
            assert {r.name for r in client.robots()} == {"arm1", "rover1"}
        with ControlClient(control.address, token="wrong", tls_ca=tls_files["cert"]) as client:
            with pytest.raises(AuthenticationFailed):
                client.robots()
        with ControlClient(control.address, token=TOKEN, timeout=3) as client:  # plain TCP to a TLS port
            with pytest.raises(ControlPlaneUnavailable):
                client.robots()
        monkeypatch.setenv("ROBOOS_TLS_CA", tls_files["cert"])
        with ControlClient(control.address, token=TOKEN) as client:
            assert client.robots()
    finally:
        cloud.run(control.stop(0.1))


def test_tls_needs_both_pem_files(cloud, tls_files, tmp_path) -> None:
    from roboos.controlplane.errors import ControlPlaneConfigError

    with pytest.raises(ControlPlaneConfigError, match="both a certificate .tls_cert. and a private key .tls_key."):
        cloud.run(start_control_plane(cloud.master, "127.0.0.1:0", tls_cert=tls_files["cert"]))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ControlPlaneConfigError, match="PEM"):
        cloud.run(
            start_control_plane(
                cloud.master, "127.0.0.1:0", tls_cert=tmp_path / "junk.pem", tls_key=tmp_path / "junk.pem"
            )
        )
    with pytest.raises(ControlPlaneConfigError, match="cannot read"):
        cloud.run(
            start_control_plane(
                cloud.master, "127.0.0.1:0", tls_cert=tmp_path / "nope.pem", tls_key=tmp_path / "nope.pem"
            )
        )


def test_tls_from_the_cloud_config(tls_files, monkeypatch) -> None:
    import asyncio

    from roboos.master.config import load_cloud_config
    from roboos.master.launch import start_cloud

    monkeypatch.setenv("ROBOOS_TEST_CONTROL_TOKEN", TOKEN)
    config = load_cloud_config(overrides=[
        "bind=tcp://127.0.0.1:0", "control_plane.bind=127.0.0.1:0", "memory.backend=local",
        "control_plane.token_env=ROBOOS_TEST_CONTROL_TOKEN",
        f"control_plane.tls_cert={tls_files['cert']}", f"control_plane.tls_key={tls_files['key']}"])

    async def scenario() -> list[str]:
        stack = await start_cloud(config, dashboard=False)
        try:
            assert stack.control_plane.tls
            client = ControlClient(stack.control_address, token=TOKEN, tls_ca=tls_files["cert"])
            try:
                return [r.name for r in await asyncio.to_thread(client.robots)]
            finally:
                client.close()
        finally:
            await stack.stop()

    assert asyncio.run(scenario()) == []
