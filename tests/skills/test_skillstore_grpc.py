"""The SkillStoreService over a real grpc.aio server on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from roboos.skills.store import SkillStore, install_archive, load_installed_skills, pack, write_manifest
from roboos.skills.store.service import skillstore_servicer

SRC = '''
from roboos.robot import Robot
from roboos.skills import skill


@skill(embodiments=["arm"])
def ring_bell(robot: Robot, times: int = 1) -> dict:
    """Ring the desk bell."""
    return {"times": times}
'''


@pytest.mark.timeout(120)
def test_publish_search_get_over_grpc(tmp_path: Path) -> None:
    from roboos.controlplane.gen import skillstore_pb2 as pb
    from roboos.controlplane.gen import skillstore_pb2_grpc as pb_grpc

    pkg = tmp_path / "bells"
    pkg.mkdir()
    (pkg / "bells.py").write_text(SRC)
    write_manifest(pkg, name="bells", version="1.0.0", embodiments=["arm"])

    async def scenario():
        server = grpc.aio.server()
        skillstore_servicer(SkillStore(tmp_path / "s.db"))(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.SkillStoreServiceStub(channel)
                info = await stub.Publish(pb.PublishRequest(archive=pack(pkg)), timeout=60)
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.Publish(pb.PublishRequest(archive=b"not a zip"), timeout=60)
                hits = await stub.Search(pb.SearchRequest(query="ring the bell", k=3), timeout=30)
                got = await stub.Get(pb.GetRequest(name="bells", with_archive=True), timeout=30)
                with pytest.raises(grpc.aio.AioRpcError) as missing:
                    await stub.Get(pb.GetRequest(name="nope"), timeout=30)
            return info, err.value, hits, got, missing.value
        finally:
            await server.stop(None)

    info, err, hits, got, missing = asyncio.run(scenario())
    assert info.skills == ["ring_bell"] and info.compact_cards[0].startswith("ring_bell(times:int=1)")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "bad_archive" in err.details()
    assert hits.hits[0].skill == "ring_bell"
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    install_archive(got.archive, tmp_path / "edge")
    assert [s.name for s in load_installed_skills(tmp_path / "edge")] == ["ring_bell"]


@pytest.mark.timeout(120)
def test_unsigned_package_is_permission_denied_when_the_store_trusts_keys(tmp_path: Path) -> None:
    from roboos.controlplane.gen import skillstore_pb2 as pb
    from roboos.controlplane.gen import skillstore_pb2_grpc as pb_grpc
    from roboos.skills.store import generate_key

    pkg = tmp_path / "bells"
    pkg.mkdir()
    (pkg / "bells.py").write_text(SRC)
    write_manifest(pkg, name="bells", version="1.0.0", embodiments=["arm"])
    line = generate_key(tmp_path / "key")

    async def scenario() -> grpc.aio.AioRpcError:
        server = grpc.aio.server()
        skillstore_servicer(SkillStore(tmp_path / "s.db", trusted_keys=[line]))(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await pb_grpc.SkillStoreServiceStub(channel).Publish(pb.PublishRequest(archive=pack(pkg)), timeout=60)
            return err.value
        finally:
            await server.stop(None)

    err = asyncio.run(scenario())
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "[unsigned]" in err.details()
