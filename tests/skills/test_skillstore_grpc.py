"""The SkillStoreService over a real grpc.aio server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from roboos.skills.store import SkillStore, install_archive, load_installed_skills, pack, write_manifest
from roboos.skills.store.service import skillstore_servicer

T = TypeVar("T")

SRC = '''
from roboos.robot import Robot
from roboos.skills import skill


@skill(embodiments=["arm"])
def ring_bell(robot: Robot, times: int = 1) -> dict:
    """Ring the desk bell."""
    return {"times": times}
'''


def bells_package(tmp_path: Path) -> Path:
    pkg = tmp_path / "bells"
    pkg.mkdir()
    (pkg / "bells.py").write_text(SRC)
    write_manifest(pkg, name="bells", version="1.0.0", embodiments=["arm"])
    return pkg


def over_grpc(store: SkillStore, scenario: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Serve ``store`` on a loopback grpc.aio server and run ``scenario(stub, pb)`` against it."""
    from roboos.controlplane.gen import skillstore_pb2 as pb
    from roboos.controlplane.gen import skillstore_pb2_grpc as pb_grpc

    async def main() -> T:
        server = grpc.aio.server()
        skillstore_servicer(store)(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                return await scenario(pb_grpc.SkillStoreServiceStub(channel), pb)
        finally:
            await server.stop(None)

    return asyncio.run(main())


@pytest.mark.timeout(120)
def test_publish_search_get_over_grpc(tmp_path: Path) -> None:
    pkg = bells_package(tmp_path)

    async def scenario(stub, pb):
        info = await stub.Publish(pb.PublishRequest(archive=pack(pkg)), timeout=60)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Publish(pb.PublishRequest(archive=b"not a zip"), timeout=60)
        hits = await stub.Search(pb.SearchRequest(query="ring the bell", k=3), timeout=30)
        got = await stub.Get(pb.GetRequest(name="bells", with_archive=True), timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.Get(pb.GetRequest(name="nope"), timeout=30)
        return info, err.value, hits, got, missing.value

    info, err, hits, got, missing = over_grpc(SkillStore(tmp_path / "s.db"), scenario)
    assert info.skills == ["ring_bell"] and info.compact_cards[0].startswith("ring_bell(times:int=1)")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "bad_archive" in err.details()
    assert hits.hits[0].skill == "ring_bell"
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    install_archive(got.archive, tmp_path / "edge")
    assert [s.name for s in load_installed_skills(tmp_path / "edge")] == ["ring_bell"]


@pytest.mark.timeout(120)
def test_unsigned_package_is_permission_denied_when_the_store_trusts_keys(tmp_path: Path) -> None:
    from roboos.skills.store import generate_key

    pkg = bells_package(tmp_path)
    line = generate_key(tmp_path / "key")

    async def scenario(stub, pb):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Publish(pb.PublishRequest(archive=pack(pkg)), timeout=60)
        return err.value

    err = over_grpc(SkillStore(tmp_path / "s.db", trusted_keys=[line]), scenario)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "[unsigned]" in err.details()
