"""Raw undecodable bytes over a real channel: every method of both gRPC services answers INVALID_ARGUMENT."""

from __future__ import annotations

import grpc
import pytest

from roboos.controlplane.auth import bearer_metadata
from roboos.controlplane.server import start_control_plane
from roboos.skills.store import SkillStore
from roboos.skills.store.service import skillstore_servicer

TOKEN = "decode-guard-token"
GARBAGE = (b"\x0a\xff", b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x12\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01")
CONTROL = ("/roboos.control.v1.RoboOS/", ("SubmitTask", "CancelTask", "GetTask", "ListTasks", "ListRobots"))
STORE = ("/roboos.skillstore.SkillStoreService/", ("Publish", "List", "Search", "Get"))
UNARY = [prefix + m for prefix, methods in (CONTROL, STORE) for m in methods]


@pytest.fixture(scope="module", params=[None, TOKEN], ids=["open", "token"])
def plane(cloud, tmp_path_factory, request):
    """A control plane with the skill store on the test cloud's master (open, and with a token)."""
    store = SkillStore(tmp_path_factory.mktemp("store") / "s.db")
    control = cloud.run(start_control_plane(cloud.master, "127.0.0.1:0", token=request.param,
                                            extra_servicers=[skillstore_servicer(store)]))
    channel = grpc.insecure_channel(control.address)
    yield channel, request.param
    channel.close()
    cloud.run(control.stop(0.1))
    store.close()


def _code(call, data: bytes, metadata=()) -> grpc.StatusCode:
    try:
        reply = call(data, timeout=10, metadata=metadata)
        if not isinstance(reply, bytes):  # a stream
            next(iter(reply), None)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("method", UNARY)
@pytest.mark.parametrize("data", GARBAGE)
def test_undecodable_request_is_invalid_argument(plane, method: str, data: bytes) -> None:
    channel, token = plane
    assert _code(channel.unary_unary(method), data, bearer_metadata(token)) is grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("data", GARBAGE)
def test_undecodable_stream_request_is_invalid_argument(plane, data: bytes) -> None:
    channel, token = plane
    watch = channel.unary_stream("/roboos.control.v1.RoboOS/WatchTask")
    assert _code(watch, data, bearer_metadata(token)) is grpc.StatusCode.INVALID_ARGUMENT


def test_without_token_garbage_is_unauthenticated_first(plane) -> None:
    channel, token = plane
    if token is None:
        pytest.skip("open server")
    for method in UNARY:
        assert _code(channel.unary_unary(method), GARBAGE[0]) is grpc.StatusCode.UNAUTHENTICATED


def test_valid_requests_still_served_after_garbage(plane) -> None:
    from roboos.controlplane.gen import control_pb2 as pb
    from roboos.controlplane.gen import skillstore_pb2 as spb

    channel, token = plane
    meta = bearer_metadata(token)
    for _ in range(20):
        _code(channel.unary_unary(UNARY[0]), GARBAGE[1], meta)
    robots = channel.unary_unary("/roboos.control.v1.RoboOS/ListRobots")(
        pb.ListRobotsRequest().SerializeToString(), timeout=10, metadata=meta)
    assert {r.name for r in pb.ListRobotsReply.FromString(robots).robots}
    listed = channel.unary_unary(STORE[0] + "List")(spb.ListRequest().SerializeToString(), timeout=10, metadata=meta)
    assert spb.ListReply.FromString(listed).packages == []
    # a well-formed message with bad content keeps its servicer's own typed answer
    missing = channel.unary_unary(STORE[0] + "Get")
    assert _code(missing, spb.GetRequest(name="nope").SerializeToString(), meta) is grpc.StatusCode.NOT_FOUND
