"""A cloud process for the watchdog test and benchmark: a real CloudChannel that starts one long
motion call and prints what it hears (``READY``, ``REGISTERED``, ``EVENT <json>``, ``RESULT <json>``). Usage:
``python -m roboos.bench.watchdog_cloud ENDPOINT ROBOT SKILL TARGET`` (SKILL ``-``: only listen)."""

from __future__ import annotations

import asyncio
import json
import sys

from roboos.channel import ChannelError, CloudChannel
from roboos.protocol import MsgType


async def main(endpoint: str, robot: str, skill: str, target: str) -> None:
    cloud = CloudChannel(endpoint, heartbeat_interval_s=0.05, heartbeat_timeout_s=1.0)

    async def on_message(env):  # noqa: ANN001, ANN202
        if env.type is MsgType.EVENT:
            print("EVENT " + json.dumps(env.body, default=str), flush=True)

    cloud.on_message = on_message
    await cloud.start()
    print("READY " + cloud.endpoint, flush=True)
    while not cloud.connected(robot):
        await asyncio.sleep(0.01)
    print("REGISTERED", flush=True)
    if skill != "-":
        try:
            reply = await cloud.call(robot, {"skill": skill, "args": {"target": target}}, timeout=120)
            print("RESULT " + json.dumps(reply.body, default=str), flush=True)
        except ChannelError as exc:
            print(f"CALLERR {exc}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await cloud.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
