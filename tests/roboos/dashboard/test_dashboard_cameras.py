"""The dashboard's camera API against a real Master and a real MuJoCo edge agent (rendered frames over
TCP loopback): listing with sizes and ages, JPEG frames, empty states, bad names, token auth."""

from __future__ import annotations

import asyncio
import io
import os
import time

import httpx
import numpy as np
import pytest
from roboos.edge.config import load_edge_config
from roboos.edge.runner import build_agents, run_agents, select_robots

from roboos.config import builtin_config
from roboos.dashboard import DashboardConfig, start_dashboard
from roboos.dashboard.cameras import encode_jpeg
from roboos.master import Master
from roboos.master.config import CloudConfig

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is first imported: headless rendering
TOKEN = "camera-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def poll(client: httpx.AsyncClient, what: str, until: object, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        view = (await client.get("/api/cameras", headers=AUTH)).json()
        if until(view):  # type: ignore[operator]
            return view
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {view}"
        await asyncio.sleep(0.1)


def test_jpeg_encoding() -> None:
    from PIL import Image

    image = np.zeros((24, 32, 3), np.uint8)
    image[:, 16:] = [250, 10, 10]
    image.flags.writeable = False  # frames from the wire are read-only views
    decoded = np.asarray(Image.open(io.BytesIO(encode_jpeg(image))))
    assert decoded.shape == (24, 32, 3) and decoded[12, 28, 0] > 200 and decoded[12, 4, 0] < 30


def test_camera_api_serves_real_mujoco_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("roboos.sim.mujoco")
    from PIL import Image

    monkeypatch.setenv("ROBOOS_DASHBOARD_CAM_TOKEN", TOKEN)

    async def main() -> None:
        master = Master(CloudConfig(bind="tcp://127.0.0.1:0"))
        await master.start()
        dash = await start_dashboard(master, DashboardConfig(bind="127.0.0.1:0", token_env="ROBOOS_DASHBOARD_CAM_TOKEN"))
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{dash.port}", timeout=10)
        runner = None
        agents = []
        worlds: dict = {}
        try:
            view = (await client.get("/api/cameras", headers=AUTH)).json()
            assert view["streams"] == [] and view["waiting"] == [] and view["views"][0]["id"] == "world"

            cfg = load_edge_config(builtin_config("robots/mujoco_household.yaml"),
                                   [f"cloud={master.channel.endpoint}", "camera_stream_hz=4", "time_scale=0"])
            agents = build_agents(select_robots(cfg, ["arm1"]), worlds=worlds)
            runner = asyncio.create_task(run_agents(agents, handle_signals=False))
            view = await poll(client, "two camera streams", lambda v: len(v["streams"]) == 2)
            streams = {s["camera"]: s for s in view["streams"]}
            assert sorted(streams) == ["image", "wrist_image"] and view["waiting"] == []
            first = streams["image"]
            assert (first["robot"], first["width"], first["height"]) == ("arm1", 224, 224)
            assert first["online"] and not first["stale"] and 0 <= first["age_s"] < 5
            assert first["url"] == "/api/cameras/arm1/image.jpg"

            for cam in ("image", "wrist_image"):
                resp = await client.get(streams[cam]["url"], headers=AUTH)
                assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
                assert resp.headers["cache-control"] == "no-store" and int(resp.headers["x-frame-seq"]) >= 1
                pixels = np.asarray(Image.open(io.BytesIO(resp.content)).convert("RGB"), dtype=np.float32)
                assert pixels.shape == (224, 224, 3)
                assert pixels.std() > 10, f"{cam}: a blank frame"  # a rendered scene, not a flat colour

            # newer frames keep arriving (4 Hz) and get new sequence numbers
            await poll(client, "a newer frame", lambda v: any(
                s["camera"] == "image" and s["seq"] > first["seq"] for s in v["streams"]))

            assert (await client.get(first["url"])).status_code == 401  # same token rule as the rest
            missing = await client.get("/api/cameras/arm1/depth.jpg", headers=AUTH)
            assert missing.status_code == 404 and missing.json()["error"] == "not_found" and "depth" in missing.json()["message"]
            assert (await client.get("/api/cameras/rover1/image.jpg", headers=AUTH)).status_code == 404
            bad = await client.get("/api/cameras/arm1/bad%20name.jpg", headers=AUTH)
            assert bad.status_code == 400
            assert master.cameras.dropped == 0
        finally:
            for agent in agents:
                await agent.stop()
            if runner is not None:
                await runner
            for world in worlds.values():
                world.close()  # its renderer belongs to the render thread
            await client.aclose()
            await dash.stop()
            await master.stop()

    asyncio.run(asyncio.wait_for(main(), 90))
