"""gRPC servicer of ``protos/skillstore.proto`` over a :class:`SkillStore`, plus a small sync client.

Register it on the control plane with
``start_control_plane(master, extra_servicers=[skillstore_servicer(SkillStore(path))])``.
Refused packages answer ``INVALID_ARGUMENT`` (``ALREADY_EXISTS`` / ``NOT_FOUND`` where they fit,
``PERMISSION_DENIED`` for a missing/untrusted/bad signature when the store trusts keys) with
``"[code] message"`` as details; publishing runs in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from roboos.skills.store.errors import PackageError
from roboos.skills.store.store import PackageRecord, SkillStore


def _info(pb: Any, rec: PackageRecord) -> Any:
    m = rec.manifest
    return pb.PackageInfo(name=m.name, version=m.version, description=m.description, embodiments=m.embodiments,
                          dependencies=m.dependencies, checksum=m.checksum, skills=[c.name for c in rec.cards],
                          compact_cards=[c.compact() for c in rec.cards],
                          cards_json=json.dumps([c.model_dump(mode="json") for c in rec.cards]),
                          published_at=rec.published_at, size=rec.size)


def skillstore_servicer(store: SkillStore) -> Callable[[Any], None]:
    """An ``extra_servicers`` entry: adds the SkillStoreService for ``store`` to a grpc.aio server."""
    import grpc

    from roboos.controlplane.gen import skillstore_pb2 as pb
    from roboos.controlplane.gen import skillstore_pb2_grpc as pb_grpc

    async def refuse(context: Any, exc: PackageError) -> None:
        status = {"already_exists": grpc.StatusCode.ALREADY_EXISTS, "not_found": grpc.StatusCode.NOT_FOUND,
                  "unsigned": grpc.StatusCode.PERMISSION_DENIED, "untrusted_key": grpc.StatusCode.PERMISSION_DENIED,
                  "bad_signature": grpc.StatusCode.PERMISSION_DENIED}.get(exc.code, grpc.StatusCode.INVALID_ARGUMENT)
        await context.abort(status, str(exc))

    class Servicer(pb_grpc.SkillStoreServiceServicer):
        async def Publish(self, request: Any, context: Any) -> Any:
            try:
                rec = await asyncio.to_thread(store.publish, bytes(request.archive), overwrite=request.overwrite)
            except PackageError as exc:
                await refuse(context, exc)
            return _info(pb, rec)

        async def List(self, request: Any, context: Any) -> Any:
            return pb.ListReply(packages=[_info(pb, r) for r in store.list(all_versions=request.all_versions)])

        async def Search(self, request: Any, context: Any) -> Any:
            hits = store.search(request.query, k=request.k or 10, embodiments=list(request.embodiments) or None)
            return pb.SearchReply(hits=[pb.SearchHit(package=r.name, version=r.version, skill=c.name,
                                                     compact_card=c.compact(), score=s) for r, c, s in hits])

        async def Get(self, request: Any, context: Any) -> Any:
            try:
                rec = store.get(request.name, request.version or None)
                data = store.archive(rec.name, rec.version) if request.with_archive else b""
            except PackageError as exc:
                await refuse(context, exc)
            return pb.GetReply(package=_info(pb, rec), archive=data)

    def add(server: Any) -> None:
        pb_grpc.add_SkillStoreServiceServicer_to_server(Servicer(), server)

    return add
