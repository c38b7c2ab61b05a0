"""CURVE encryption + ZAP allow-list, key files, and the loopback-only rule for insecure binds."""

from __future__ import annotations

import os
import stat

import pytest

from roboos.channel import (
    CallTimeout,
    ChannelError,
    ChannelSecurity,
    CloudChannel,
    EdgeChannel,
    KeyPair,
    is_loopback,
    load_keypair,
    save_keypair,
)
from roboos.channel.security import load_allow_list
from roboos.protocol.messages import HelloBody


def test_curve_allow_list_accepts_known_and_rejects_unknown_keys(run, until) -> None:
    server, known, unknown = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()

    async def main() -> None:
        cloud = CloudChannel("tcp://127.0.0.1:0", security=ChannelSecurity.for_cloud(server, [known.public]))
        await cloud.start()
        good = EdgeChannel(cloud.endpoint, "good", HelloBody(robot="good", embodiment="arm"),
                           security=ChannelSecurity.for_edge(known, server.public))
        good.on_call = lambda env: {"ok": True, "value": "encrypted"}
        await good.start(wait_welcome=10)
        assert (await cloud.call("good", {}, timeout=5)).body["value"] == "encrypted"
        bad = EdgeChannel(cloud.endpoint, "bad", HelloBody(robot="bad", embodiment="arm"),
                          security=ChannelSecurity.for_edge(unknown, server.public))
        with pytest.raises(CallTimeout):
            await bad.start(wait_welcome=0.5)
        assert not cloud.connected("bad") and cloud.allow_list.rejected >= 1
        plain = EdgeChannel(cloud.endpoint, "plain", HelloBody(robot="plain", embodiment="arm"))
        with pytest.raises(CallTimeout):
            await plain.start(wait_welcome=0.5)
        # keys can be added while serving (roboos deploy registers a new robot)
        cloud.allow_list.add(unknown.public)
        bad.reopen_after_s = 1.0  # the refused socket is replaced soon (default: a few seconds)
        await bad.wait_connected(10)
        for e in (good, bad, plain):
            await e.close()
        await cloud.close()

    run(main())


def test_insecure_bind_off_loopback_is_refused(run) -> None:
    async def main() -> None:
        with pytest.raises(ChannelError, match="CURVE"):
            await CloudChannel("tcp://0.0.0.0:0").start()
        cloud = CloudChannel("tcp://0.0.0.0:0", allow_insecure=True)
        await cloud.start()
        await cloud.close()

    run(main())


@pytest.mark.parametrize("endpoint, loop", [
    ("tcp://127.0.0.1:7700", True), ("tcp://localhost:1", True), ("tcp://[::1]:5", True), ("ipc:///tmp/x", True),
    ("inproc://x", True), ("tcp://0.0.0.0:7700", False), ("tcp://*:7700", False), ("tcp://10.0.0.2:1", False),
])
def test_is_loopback(endpoint: str, loop: bool) -> None:
    assert is_loopback(endpoint) is loop


def test_key_files_are_private_and_checked(tmp_path) -> None:
    pair = KeyPair.generate()
    public, secret = save_keypair(tmp_path, "arm1", pair)
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert load_keypair(tmp_path, "arm1") == pair
    assert load_allow_list(tmp_path) == [pair.public]
    os.chmod(secret, 0o644)
    with pytest.raises(PermissionError):
        load_keypair(tmp_path, "arm1")
    (tmp_path / "bad.key").write_text("short")
    with pytest.raises(ValueError):
        load_allow_list(tmp_path)
    with pytest.raises(ValueError):
        ChannelSecurity().apply_server(None)  # type: ignore[arg-type]


def test_keystore_allow_dir_picked_up_while_serving(run, tmp_path) -> None:
    from roboos.channel.keystore import CloudSecurityConfig, KeyStore

    store = KeyStore(tmp_path / "keys")
    cfg = CloudSecurityConfig(mode="on", key_dir=str(store.root))
    assert CloudSecurityConfig().channel_kwargs("tcp://127.0.0.1:1") == {"security": None}
    assert CloudSecurityConfig(mode="off").channel_kwargs("tcp://0.0.0.0:1")["allow_insecure"] is True
    assert CloudSecurityConfig().enabled_for("tcp://0.0.0.0:1")
    auto = CloudSecurityConfig(key_dir=str(tmp_path / "auto")).channel_kwargs("tcp://0.0.0.0:7700")
    assert auto["security"].server is not None and auto["security"].allow_dir == tmp_path / "auto" / "allowed"
    assert CloudSecurityConfig.model_validate({"mode": True}).mode == "on"  # YAML's bare `on`
    robot = KeyPair.generate()

    async def main() -> None:
        cloud = CloudChannel("tcp://127.0.0.1:0", **cfg.channel_kwargs("tcp://127.0.0.1:0"))
        await cloud.start()
        assert stat.S_IMODE(os.stat(store.root / "cloud.key_secret").st_mode) == 0o600
        store.allow("arm1", robot.public)  # registered after the cloud started
        edge = EdgeChannel(cloud.endpoint, "arm1", HelloBody(robot="arm1", embodiment="arm"),
                           security=ChannelSecurity.for_edge(robot, store.cloud_keys().public))
        await edge.start(wait_welcome=10)
        assert cloud.connected("arm1") and store.allowed("arm1")
        await edge.close()
        await cloud.close()

    run(main())
