"""Cloud and edge in separate processes over TCP loopback: calls, cloud restart, edge crash."""

from __future__ import annotations

import asyncio

from roboos.bench.channel_payloads import control_result
from roboos.bench.channel_procs import ServerProcess
from roboos.channel import CloudChannel


def test_edge_process_survives_cloud_restart_and_crash_is_detected(run, tcp_endpoint, until) -> None:
    events: list[tuple[str, str]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        cloud = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.1, heartbeat_timeout_s=1.0)
        await cloud.start()
        edge = await loop.run_in_executor(
            None, lambda: ServerProcess("roboos.bench.channel_servers", "channel-edge", tcp_endpoint))
        try:
            assert (await cloud.call("bench-edge", {"skill": "pick"}, timeout=10)).body == control_result()
            await cloud.close()
            cloud = CloudChannel(tcp_endpoint, heartbeat_interval_s=0.1, heartbeat_timeout_s=1.0)
            cloud.on_disconnect = lambda rid, reason: events.append((rid, reason))
            await cloud.start()
            await until(lambda: cloud.connected("bench-edge"), timeout=20, what="re-registration after restart")
            assert (await cloud.call("bench-edge", {"skill": "pick"}, timeout=10)).body == control_result()
            edge.proc.kill()  # a crash: no BYE
            await until(lambda: events == [("bench-edge", "heartbeat timeout")], timeout=20,
                        what="heartbeat timeout of the killed edge")
        finally:
            await loop.run_in_executor(None, edge.close)
            await cloud.close()

    run(main(), timeout=90)
