"""Channel request/response: calls, requests, errors, timeouts, offline robots, registration."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from roboos.channel import (
    CallTimeout,
    ChannelError,
    ChannelRejected,
    CloudChannel,
    EdgeChannel,
    RemoteError,
    RobotOffline,
)
from roboos.protocol import Envelope, MsgType
from roboos.protocol.messages import HelloBody


def test_call_result_round_trip_with_arrays(run, pair, until) -> None:
    async def on_call(env: Envelope) -> dict:
        return {"ok": True, "value": {"sum": float(env.body["args"]["x"].sum()), "echo": env.body["args"]["x"]}}

    async def main() -> None:
        async with pair(on_call=on_call) as (cloud, edge):
            x = np.arange(12, dtype=np.float32).reshape(3, 4)
            reply = await cloud.call("r1", {"skill": "s", "args": {"x": x}}, timeout=5)
            assert reply.type is MsgType.RESULT and reply.src == "r1"
            assert reply.body["value"]["sum"] == 66.0
            np.testing.assert_array_equal(reply.body["value"]["echo"], x)
            link = cloud.links()["r1"]
            assert link.connected and link.session == edge.hello.session and link.hello["embodiment"] == "arm"
            await until(lambda: cloud.links()["r1"].rtt_s is not None, what="rtt from heartbeats")
            assert 0 <= link.age_s < 5

    run(main())


def test_edge_request_answered_by_on_request(run, pair) -> None:
    async def main() -> None:
        async with pair() as (cloud, edge):
            async def on_request(env: Envelope) -> dict:
                assert env.src == "r1"
                if env.type is MsgType.CALL:
                    return {"ok": True, "value": env.body["skill"]}
                assert env.body["image"].shape == (8, 8, 3)
                return {"actions": np.ones((5, 2), np.float32)}

            cloud.on_request = on_request
            reply = await edge.request(MsgType.OBSERVATION, {"image": np.zeros((8, 8, 3), np.uint8)})
            assert reply.type is MsgType.ACTION and reply.body["actions"].shape == (5, 2)
            reply = await edge.request(MsgType.CALL, {"skill": "lookup"})
            assert reply.type is MsgType.RESULT and reply.body["value"] == "lookup"

    run(main())


def test_handler_failure_becomes_remote_error_and_channel_keeps_serving(run, pair) -> None:
    calls = []

    async def on_call(env: Envelope) -> dict:
        calls.append(env.body)
        if env.body.get("boom"):
            raise ValueError("bad gripper")
        return {"ok": True}

    async def main() -> None:
        async with pair(on_call=on_call) as (cloud, edge):
            with pytest.raises(RemoteError) as err:
                await cloud.call("r1", {"boom": True}, timeout=5)
            assert err.value.code == "handler_error" and "bad gripper" in err.value.message
            assert (await cloud.call("r1", {}, timeout=5)).body == {"ok": True}

            async def on_request(env: Envelope) -> dict:
                raise RuntimeError("policy crashed")

            cloud.on_request = on_request
            with pytest.raises(RemoteError) as err2:
                await edge.request(MsgType.OBSERVATION, {}, timeout=5)
            assert err2.value.code == "internal"

    run(main())


def test_call_timeout_and_late_reply_is_counted(run, pair, until) -> None:
    async def on_call(env: Envelope) -> dict:
        await asyncio.sleep(0.3)
        return {"ok": True}

    async def main() -> None:
        async with pair(on_call=on_call) as (cloud, edge):
            with pytest.raises(CallTimeout):
                await cloud.call("r1", {}, timeout=0.05)
            await until(lambda: cloud.stats.dropped_unroutable == 1, what="late reply dropped")
            with pytest.raises(TimeoutError):  # CallTimeout is a TimeoutError too
                await cloud.call("r1", {}, timeout=0.05)

    run(main())


def test_offline_robots(run, pair, until) -> None:
    async def main() -> None:
        async with pair(cloud_kw={"offline_grace_s": 0.2}) as (cloud, edge):
            with pytest.raises(RobotOffline):
                await cloud.call("nobody", {}, timeout=5)
            with pytest.raises(RobotOffline):
                await cloud.send("nobody", Envelope(MsgType.CANCEL, {"call_id": "x"}))
            await edge.close()  # BYE: known robot, offline now
            await until(lambda: not cloud.connected("r1"), what="BYE processed")
            t0 = asyncio.get_running_loop().time()
            with pytest.raises(RobotOffline):
                await cloud.call("r1", {}, timeout=5)
            assert asyncio.get_running_loop().time() - t0 >= 0.15  # waited the grace period
            with pytest.raises(ChannelError):
                await edge.request(MsgType.OBSERVATION, {})

    run(main())


def test_pending_call_fails_when_the_robot_leaves(run, pair) -> None:
    async def on_call(env: Envelope) -> dict:
        await asyncio.sleep(10)
        return {"ok": True}

    async def main() -> None:
        async with pair(on_call=on_call, cloud_kw={"offline_grace_s": 0.2}) as (cloud, edge):
            task = asyncio.create_task(cloud.call("r1", {}, timeout=20))
            await asyncio.sleep(0.1)
            await edge.close()
            with pytest.raises(RobotOffline):
                await task

    run(main())


def test_call_waits_for_a_robot_coming_back_within_grace(run, pair) -> None:
    async def main() -> None:
        async with pair(cloud_kw={"offline_grace_s": 5.0}) as (cloud, edge):
            edge.on_call = lambda env: {"ok": True, "value": "sync handler"}
            await edge.close()
            edge2 = EdgeChannel(cloud.endpoint, "r1", HelloBody(robot="r1", embodiment="arm"),
                                heartbeat_interval_s=0.05)
            edge2.on_call = edge.on_call
            task = asyncio.create_task(cloud.call("r1", {}, timeout=5))
            await asyncio.sleep(0.1)
            await edge2.start()
            assert (await task).body["value"] == "sync handler"
            await edge2.close()

    run(main())


def test_messages_both_ways_and_on_message_reply(run, pair, until) -> None:
    got: list[Envelope] = []

    async def main() -> None:
        async with pair() as (cloud, edge):
            cloud.on_message = lambda env: got.append(env)
            await edge.send(MsgType.STATE, {"state": {"robot": "r1", "joints": [0.1, 0.2]}})
            await edge.send(MsgType.EVENT, {"kind": "watchdog_stop", "data": {}})
            await until(lambda: len(got) == 2, what="state + event at the cloud")
            assert [e.type for e in got] == [MsgType.STATE, MsgType.EVENT] and got[0].src == "r1"

            async def on_message(env: Envelope) -> dict | None:
                return {"cancelled": env.body["call_id"]} if env.type is MsgType.CANCEL else None

            edge.on_message = on_message
            reply = await cloud.call("r1", {"call_id": "c1"}, type=MsgType.CANCEL, timeout=5)
            assert reply.body == {"cancelled": "c1"}

    run(main())


def test_on_hello_extra_welcome_fields_and_rejection(run) -> None:
    async def main() -> None:
        cloud = CloudChannel("tcp://127.0.0.1:0")

        async def on_hello(env: Envelope) -> dict:
            if env.body["robot"] == "intruder":
                raise ChannelRejected("not on the roster")
            return {"scene": "household"}

        cloud.on_hello = on_hello
        await cloud.start()
        ok = EdgeChannel(cloud.endpoint, "arm1", HelloBody(robot="arm1", embodiment="arm"))
        welcome = await ok.start(wait_welcome=5)
        assert welcome is not None and welcome.cloud == "cloud"
        assert ok.connected and cloud.connected("arm1")
        bad = EdgeChannel(cloud.endpoint, "intruder", HelloBody(robot="intruder", embodiment="arm"))
        with pytest.raises(RemoteError) as err:
            await bad.start(wait_welcome=5)
        assert err.value.code == "rejected" and not cloud.connected("intruder")
        await bad.close()
        await ok.close()
        await cloud.close()

    run(main())


def test_edge_start_times_out_without_cloud_then_connects_later(run, tcp_endpoint) -> None:
    async def main() -> None:
        edge = EdgeChannel(tcp_endpoint, "r9", HelloBody(robot="r9", embodiment="arm"), heartbeat_interval_s=0.05)
        with pytest.raises(CallTimeout):
            await edge.start(wait_welcome=0.3)
        cloud = CloudChannel(tcp_endpoint)
        await cloud.start()
        await edge.wait_connected(10)
        assert cloud.connected("r9")
        await edge.close()
        await cloud.close()

    run(main())


def test_robot_id_must_match_hello() -> None:
    with pytest.raises(ValueError):
        EdgeChannel("tcp://127.0.0.1:1", "a", HelloBody(robot="b", embodiment="arm"))


def test_edge_counts_running_calls_for_its_busy_heartbeat(run, pair, until) -> None:
    release = asyncio.Event()

    async def on_call(env: Envelope) -> dict:
        await release.wait()
        return {"ok": True}

    async def main() -> None:
        async with pair(on_call=on_call) as (cloud, edge):
            calls = [asyncio.create_task(cloud.call("r1", {"skill": "s"}, timeout=5)) for _ in range(3)]
            await until(lambda: edge._running_calls == 3, what="three running calls")
            release.set()
            await asyncio.gather(*calls)
            assert edge._running_calls == 0

    run(main())
