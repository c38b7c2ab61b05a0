"""Channel reliability: idempotent calls, heartbeats, re-registration, cloud restarts."""

from __future__ import annotations

import asyncio

import pytest

from roboos.channel import CloudChannel, EdgeChannel, RobotOffline
from roboos.protocol import Envelope, MsgType
from roboos.protocol.messages import HelloBody


def test_retransmitted_call_executes_once(run, pair, until) -> None:
    executed: list[str] = []
    release = asyncio.Event

    async def main() -> None:
        gate = release()

        async def on_call(env: Envelope) -> dict:
            executed.append(env.id)
            await gate.wait()
            return {"ok": True, "value": len(executed)}

        async with pair(on_call=on_call) as (cloud, edge):
            first = asyncio.create_task(cloud.call("r1", {"skill": "move"}, msg_id="call-1", timeout=5))
            await until(lambda: executed == ["call-1"], what="call running")
            # a retransmission of the same id while it runs: answered from the same execution
            await cloud.send("r1", Envelope(MsgType.CALL, {"skill": "move"}, id="call-1"))
            await until(lambda: edge.stats.duplicate_calls == 1, what="duplicate seen")
            gate.set()
            assert (await first).body == {"ok": True, "value": 1}
            await until(lambda: cloud.stats.dropped_unroutable == 1, what="second reply (late) dropped")
            # after completion: the stored result, no second execution
            again = await cloud.call("r1", {"skill": "move"}, msg_id="call-1", timeout=5)
            assert again.body == {"ok": True, "value": 1}
            assert executed == ["call-1"] and edge.stats.duplicate_calls == 2
            # the same id twice at the cloud at once shares one request
            a, b = await asyncio.gather(cloud.call("r1", {}, msg_id="call-2", timeout=5),
                                        cloud.call("r1", {}, msg_id="call-2", timeout=5))
            assert a is b and executed == ["call-1", "call-2"]

    run(main())


def test_result_cache_is_bounded(run, pair) -> None:
    executed: list[str] = []

    async def main() -> None:
        async with pair(on_call=lambda env: executed.append(env.id) or {"ok": True}, edge_kw={"result_cache": 3}
                        ) as (cloud, edge):
            for i in range(5):
                await cloud.call("r1", {}, msg_id=f"id{i}", timeout=5)
            assert len(edge._calls) == 3
            await cloud.call("r1", {}, msg_id="id4", timeout=5)  # still cached
            await cloud.call("r1", {}, msg_id="id0", timeout=5)  # evicted: runs again
            assert executed == ["id0", "id1", "id2", "id3", "id4", "id0"]

    run(main())


def test_pending_call_is_resent_on_reregistration_and_runs_once(run, pair, until) -> None:
    executed: list[str] = []

    async def main() -> None:
        async def on_call(env: Envelope) -> dict:
            executed.append(env.id)
            await asyncio.sleep(0.5)
            return {"ok": True}

        async with pair(on_call=on_call, cloud_kw={"offline_grace_s": 5.0}) as (cloud, edge):
            task = asyncio.create_task(cloud.call("r1", {}, msg_id="c-7", timeout=10))
            await until(lambda: executed == ["c-7"], what="call running")
            cloud._mark_offline(cloud._links["r1"], "test: link dropped")  # as after a heartbeat timeout
            # the edge's next heartbeat gets not_registered -> HELLO -> WELCOME -> the call is re-sent
            await until(lambda: cloud.links()["r1"].registrations == 2, what="re-registration")
            assert (await task).body == {"ok": True}
            assert executed == ["c-7"] and edge.stats.duplicate_calls >= 1

    run(main())


def test_heartbeat_timeout_calls_on_disconnect(run, pair, until) -> None:
    events: list[tuple[str, str]] = []
    links: list[bool] = []

    async def main() -> None:
        async with pair(cloud_kw={"heartbeat_timeout_s": 0.3}, edge_kw={"cloud_timeout_s": 0.3}) as (cloud, edge):
            cloud.on_disconnect = lambda rid, reason: events.append((rid, reason))
            edge.on_link_change = lambda up: links.append(up)
            edge._ticker.cancel()  # the edge falls silent
            await until(lambda: events == [("r1", "heartbeat timeout")], what="on_disconnect")
            assert not cloud.connected("r1")
            with pytest.raises(RobotOffline):
                await cloud.call("r1", {}, timeout=0.5)
            cloud._ticker.cancel()  # now the cloud falls silent too
            edge._ticker = asyncio.create_task(edge._tick())
            await until(lambda: links[:1] == [False], what="edge sees the link go down")

    run(main())


def test_bye_calls_on_disconnect(run, pair, until) -> None:
    events: list[tuple[str, str]] = []

    async def main() -> None:
        async with pair() as (cloud, edge):
            cloud.on_disconnect = lambda rid, reason: events.append((rid, reason))
            await edge.close()
            await until(lambda: len(events) == 1, what="on_disconnect after BYE")
            assert events[0][0] == "r1" and events[0][1].startswith("bye")

    run(main())


def test_edge_reregisters_after_cloud_restart(run, tcp_endpoint, until) -> None:
    links: list[bool] = []

    async def main() -> None:
        cloud = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.05, heartbeat_timeout_s=1.0)
        await cloud.start()
        edge = EdgeChannel(tcp_endpoint, "r1", HelloBody(robot="r1", embodiment="arm"),
                           heartbeat_interval_s=0.05, cloud_timeout_s=0.3)
        edge.on_call = lambda env: {"ok": True, "value": "served"}
        edge.on_link_change = lambda up: links.append(up)
        await edge.start()
        assert (await cloud.call("r1", {}, timeout=5)).body["value"] == "served"
        await cloud.close()  # says BYE
        await until(lambda: links == [True, False], what="link down")
        cloud2 = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.05)
        await cloud2.start()
        await until(lambda: cloud2.connected("r1"), what="re-registration with the new cloud")
        assert (await cloud2.call("r1", {}, timeout=5)).body["value"] == "served"
        assert links == [True, False, True]
        await edge.close()
        await cloud2.close()

    run(main())


def test_cloud_crash_without_bye_detected_by_silence(run, tcp_endpoint, until) -> None:
    links: list[bool] = []

    async def main() -> None:
        cloud = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.05)
        await cloud.start()
        edge = EdgeChannel(tcp_endpoint, "r1", HelloBody(robot="r1", embodiment="arm"),
                           heartbeat_interval_s=0.05, cloud_timeout_s=0.2)
        edge.on_link_change = lambda up: links.append(up)
        await edge.start()
        # simulate a crash: stop the cloud's loop-side machinery and socket without a BYE
        cloud._ticker.cancel()
        cloud._pump.stop()
        cloud._sock.close(0)
        cloud._sock = None
        t0 = asyncio.get_running_loop().time()
        await until(lambda: links == [True, False], what="edge notices the silence")
        assert asyncio.get_running_loop().time() - t0 < 1.0
        cloud._ctx.term()
        cloud2 = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.05)
        await cloud2.start()
        await until(lambda: cloud2.connected("r1") and edge.connected, what="back")
        await edge.close()
        await cloud2.close()

    run(main())


def test_ping_gets_an_immediate_heartbeat(run, pair, until) -> None:
    async def main() -> None:
        async with pair(cloud_kw={"heartbeat_interval_s": 5.0}, edge_kw={"heartbeat_interval_s": 5.0}) as (cloud, edge):
            before = edge.last_heard
            await asyncio.sleep(0.05)
            assert edge.ping()
            await until(lambda: edge.last_heard > before, timeout=2, what="pong")

    run(main())


def test_request_refused_as_not_registered_is_resent_after_reregistration(run, pair, until) -> None:
    async def main() -> None:
        async with pair() as (cloud, edge):
            seen: list[str] = []

            async def on_request(env: Envelope) -> dict:
                seen.append(env.id)
                return {"actions": [1, 2]}

            cloud.on_request = on_request
            cloud._mark_offline(cloud._links["r1"], "test: forgot the robot")  # as after a timeout/restart
            reply = await edge.request(MsgType.OBSERVATION, {"x": 1}, timeout=10)
            assert reply.body == {"actions": [1, 2]} and len(seen) == 1
            assert cloud.links()["r1"].registrations == 2 and edge.stats.errors_received >= 1

    run(main())


def test_a_live_robot_stays_online_across_a_cloud_loop_blocked_past_the_heartbeat_timeout() -> None:
    """The cloud's loop is blocked longer than the heartbeat timeout while a live edge keeps sending."""
    import threading
    import time as _time

    from roboos.channel import CloudChannel, EdgeChannel
    from roboos.protocol.messages import HelloBody

    async def main() -> None:
        cloud = CloudChannel("tcp://127.0.0.1:0", heartbeat_interval_s=0.1, heartbeat_timeout_s=0.5)
        await cloud.start()
        stop = threading.Event()

        def edge_thread() -> None:
            async def run_edge() -> None:
                edge = EdgeChannel(cloud.endpoint, "r1", HelloBody(robot="r1", embodiment="arm"),
                                   heartbeat_interval_s=0.05, cloud_timeout_s=30.0)
                await edge.start(wait_welcome=10)
                while not stop.is_set():  # a busy robot: STATE every 2 ms (a backlog of hundreds of messages)
                    await edge.send(MsgType.STATE, {"state": {"pose": [0.0, 0.0, 0.0]}})
                    await asyncio.sleep(0.002)
                await edge.close()

            asyncio.run(run_edge())

        t = threading.Thread(target=edge_thread, daemon=True)
        t.start()
        try:
            for _ in range(200):
                if cloud.connected("r1"):
                    break
                await asyncio.sleep(0.02)
            assert cloud.connected("r1")
            _time.sleep(1.2)  # the cloud's loop is stuck (CPU starved, a long handler) > heartbeat timeout
            await asyncio.sleep(0.35)  # the overdue ticks run now
            assert cloud.connected("r1"), "a robot whose heartbeats were queued unread was marked offline"
            assert cloud.stats.disconnects == 0
        finally:
            stop.set()
            t.join(5)
            await cloud.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_liveness_is_not_judged_while_a_backlog_waits_unread() -> None:
    """With hundreds of robots one robot's messages can sit deep in the queue: drain first, else defer."""
    from roboos.channel import CloudChannel

    class BackloggedPump:
        def __init__(self, messages: int) -> None:
            self.left = messages

        def pending(self) -> bool:
            return self.left > 0

        def drain_now(self, budgets: int = 1) -> None:
            self.left = max(0, self.left - budgets * 64)

    cloud = CloudChannel("tcp://127.0.0.1:0")
    cloud._pump = BackloggedPump(500)  # type: ignore[assignment]
    assert asyncio.run(cloud._caught_up()) and cloud.stats.liveness_deferred == 0  # 500 < 16 x 64: drained
    cloud._pump = BackloggedPump(5000)  # type: ignore[assignment]
    assert not asyncio.run(cloud._caught_up()) and cloud.stats.liveness_deferred == 1


def test_tick_heartbeats_every_robot_slice_by_slice(run, until, monkeypatch) -> None:
    """The tick sends one shared HEARTBEAT per group of robots, a slice per loop turn; every robot gets it."""
    from roboos.channel import cloud as cloud_module

    monkeypatch.setattr(cloud_module, "TICK_SLICE", 1)

    async def main() -> None:
        cloud = CloudChannel("tcp://127.0.0.1:0", heartbeat_interval_s=0.05, heartbeat_timeout_s=1.0)
        await cloud.start()
        edges = [EdgeChannel(cloud.endpoint, f"r{i}", HelloBody(robot=f"r{i}", embodiment="arm"),
                             heartbeat_interval_s=0.05, cloud_timeout_s=1.0) for i in range(3)]
        try:
            for edge in edges:
                await edge.start(wait_welcome=5)
            await until(lambda: all(link.rtt_s is not None for link in cloud.links().values())
                        and len(cloud.links()) == 3, what="every robot echoed the tick's heartbeat")
            assert all(edge.connected for edge in edges) and cloud.stats.disconnects == 0
            # heartbeat groups in order of registration: the fleet's beats are spread over the interval
            assert sorted(link.beat_group for link in cloud.links().values()) == [0, 1, 2]
        finally:
            for edge in edges:
                await edge.close()
            await cloud.close()

    run(main())
