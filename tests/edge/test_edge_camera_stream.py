"""Camera streaming: image selection and shrinking on the edge, and frames reaching a real Master over
TCP loopback without holding up state or calls."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from edge_rig import wait_until
from roboos.edge.agent import EdgeAgent
from roboos.edge.camera_stream import (
    CameraStream,
    camera_frames,
    camera_name,
    has_cameras,
    lower_thread_priority,
    shrink,
    to_rgb8,
)
from roboos.edge.config import load_edge_config
from roboos.edge.robots import make_robots
from roboos.skills import skill
from roboos.skills.sdk import SkillSpec, get_spec

from roboos.master.config import load_cloud_config
from roboos.master.master import Master
from roboos.protocol import Envelope, MsgType
from roboos.robot import Robot, RobotState

FAST_CLOUD = ["bind=tcp://127.0.0.1:0", "control_plane.enabled=false", "dashboard.enabled=false",
              "heartbeat.interval_s=0.1", "heartbeat.timeout_s=1.0", "memory.backend=local"]


@skill(embodiments=["camera_rig"], timeout=5.0)
def wait_a_bit(seconds: float = 0.05) -> dict:
    """Sleep a moment (a skill call made while the camera renders)."""
    time.sleep(seconds)
    return {"slept": seconds}


class GradientCamera(Robot):
    """A robot whose one camera sees a 480x640 gradient that brightens with each frame; each render takes
    ``render_s`` (like a slow software renderer)."""

    def __init__(self, name: str = "cam1", render_s: float = 0.0, cameras: Sequence[str] | None = ("image",)) -> None:
        self.name, self.embodiment = name, "camera_rig"
        self.render_s, self.cameras = render_s, cameras
        self.renders = 0
        self.rendering = threading.Event()
        self.connected = False
        self.polled_while_disconnected = 0

    def connect(self) -> None:
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def stop(self) -> None: ...

    def get_state(self) -> RobotState:
        return RobotState(robot=self.name, embodiment=self.embodiment, status="idle")

    def skills(self) -> Sequence[SkillSpec]:
        return [get_spec(wait_a_bit)]

    def profile(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "embodiment": self.embodiment}
        if self.cameras is not None:
            out["cameras"] = list(self.cameras)
        return out

    def get_observation(self) -> dict[str, np.ndarray]:
        self.polled_while_disconnected += not self.connected
        self.rendering.set()
        time.sleep(self.render_s)
        self.polled_while_disconnected += not self.connected  # the agent disconnected it mid-render
        self.renders += 1
        ramp = np.linspace(0, 200, 640, dtype=np.float32)[None, :, None]
        image = np.broadcast_to(ramp, (480, 640, 3)) + min(self.renders, 55)
        return {"image": image.astype(np.uint8), "state": np.zeros(3, np.float32)}


# ------------------------------------------------------------------------------------------ units
def test_camera_keys() -> None:
    assert camera_name("image") == "image" and camera_name("wrist_image") == "wrist_image"
    assert camera_name("observation/images/base_0_rgb") == "base_0_rgb"
    assert camera_name("state") is None and camera_name("observation/images/") is None
    assert camera_name("observation/state") is None


def test_images_become_rgb8() -> None:
    grey = np.full((4, 5), 7, np.uint8)
    assert to_rgb8(grey).shape == (4, 5, 3) and to_rgb8(grey)[0, 0].tolist() == [7, 7, 7]
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 9
    assert to_rgb8(rgba).shape == (4, 5, 3) and to_rgb8(rgba)[0, 0, 0] == 9
    floats = np.full((2, 2, 3), 0.5, np.float32)
    floats[0, 0] = [np.nan, 2.0, -1.0]
    assert to_rgb8(floats)[0, 0].tolist() == [0, 255, 0] and to_rgb8(floats)[1, 1, 0] == 128
    assert to_rgb8(np.full((2, 2, 3), 0x1234, np.uint16))[0, 0, 0] == 0x12
    for bad in (np.zeros((2, 2, 2), np.uint8), np.zeros((2,), np.uint8), np.zeros((0, 3, 3), np.uint8),
                np.zeros((2, 2, 3), np.int64), [[1, 2]], "image"):
        assert to_rgb8(bad) is None, bad


def test_shrink_area_averages_to_fit() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[::2, ::2] = 200  # one bright pixel per 2x2 block
    small = shrink(image, 320)
    assert small.shape == (240, 320, 3) and small.dtype == np.uint8 and int(small[5, 5, 0]) == 50
    assert shrink(image, 640) is image  # already fits
    assert shrink(np.zeros((1080, 1920, 3), np.uint8), 320).shape == (180, 320, 3)
    assert max(shrink(np.zeros((1, 2000, 3), np.uint8), 320).shape[:2]) <= 320  # a very thin image


def test_only_camera_images_are_streamed() -> None:
    obs = {"image": np.zeros((480, 640, 3), np.uint8), "wrist_image": np.zeros((224, 224, 3), np.uint8),
           "observation/images/base_0_rgb": np.zeros((10, 10), np.uint8), "state": np.zeros((7,), np.float32),
           "depth_image": np.zeros((4, 4, 3), np.int64), 3: np.zeros((4, 4, 3), np.uint8)}
    frames = camera_frames(obs, 320)
    assert sorted(frames) == ["base_0_rgb", "image", "wrist_image"]
    assert frames["image"].shape == (240, 320, 3) and frames["base_0_rgb"].shape == (10, 10, 3)


def test_which_robots_stream() -> None:
    kinematic = make_robots(load_edge_config().robots, time_scale=0)
    assert not any(has_cameras(r) for r in kinematic)  # no get_observation of their own
    assert has_cameras(GradientCamera()) and has_cameras(GradientCamera(cameras=None))
    assert not has_cameras(GradientCamera(cameras=[]))  # declares it has none
    assert not CameraStream(GradientCamera(), rate_hz=0).enabled
    assert CameraStream(GradientCamera(), rate_hz=2).capture().images["image"].shape == (240, 320, 3)
    with pytest.raises(ValueError):
        CameraStream(GradientCamera(), rate_hz=-1)
    with pytest.raises(ValueError):
        CameraStream(GradientCamera(), max_side=4096)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="needs os.getpriority (POSIX)")
def test_capture_thread_runs_at_a_lower_priority() -> None:
    def nice_here() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def nice_of_a_thread_started_here() -> int:
        seen: list[int] = []
        child = threading.Thread(target=lambda: seen.append(nice_here()))
        child.start()
        child.join()
        return seen[0]

    base = nice_here()
    with ThreadPoolExecutor(1, initializer=lower_thread_priority) as pool:
        lowered = pool.submit(nice_here).result()
        started_by_it = pool.submit(nice_of_a_thread_started_here).result()
    assert lowered == min(19, base + 10) and started_by_it == lowered  # threads it starts inherit it
    assert nice_here() == base  # only that thread


def test_edge_config_rate_fields() -> None:
    cfg = load_edge_config(None, ["camera_stream_hz=0.5", "robots.0.camera_stream_hz=0"])
    assert cfg.camera_stream_hz == 0.5 and cfg.robots[0].camera_stream_hz == 0 and cfg.camera_max_side == 320
    assert load_edge_config().camera_stream_hz == 2.0 and load_edge_config().camera_on_demand is True
    from roboos.config import ConfigError

    with pytest.raises(ConfigError, match="camera_stream_hz"):
        load_edge_config(None, ["camera_stream_hz=-1"])


# ----------------------------------------------------------------------------- edge -> cloud, TCP
async def _with_master(robot: Robot, test: Any, **agent_kw: Any) -> None:
    master = Master(load_cloud_config(None, FAST_CLOUD))
    await master.start()
    agent = EdgeAgent(robot, master.channel.endpoint, heartbeat_interval_s=0.1, cloud_timeout_s=1.0, **agent_kw)
    await agent.start()
    runner = asyncio.create_task(agent.run())
    try:
        await wait_until(lambda: robot.name in master.channel.links(), what="registration")
        await test(master, agent)
    finally:
        await agent.stop()
        await runner
        await master.stop()


def test_frames_reach_the_master_and_never_hold_up_state_or_calls() -> None:
    robot = GradientCamera(render_s=0.3)  # slower than the 20 Hz tick: ticks are skipped, not queued

    async def check(master: Master, agent: EdgeAgent) -> None:
        await wait_until(lambda: master.cameras.latest("cam1", "image") is not None, what="a first frame")
        frame = master.cameras.latest("cam1", "image")
        assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
        assert frame.taken_ns > 0 and frame.age_s < 5
        row = frame.image[0, :, 0].astype(int)
        assert row[0] < row[-1] and np.all(np.diff(row) >= 0)  # the gradient survived the trip
        # while the camera renders in its worker thread, state keeps flowing and calls are answered
        states_before = agent.states_sent
        robot.rendering.clear()
        await wait_until(robot.rendering.is_set, what="a render in progress")
        reply = await master.channel.call("cam1", {"skill": "wait_a_bit", "args": {"seconds": 0.01}}, timeout=2.0)
        assert reply.body["ok"] is True
        await asyncio.sleep(0.25)
        assert agent.states_sent >= states_before + 5  # 50 Hz state is not blocked by 0.3 s renders
        await wait_until(lambda: master.cameras.latest("cam1", "image").seq > frame.seq, what="a newer frame")
        assert agent.cameras.skipped > 0 and robot.renders <= 1 + agent.cameras.sent + agent.cameras.failed
        assert master.cameras.dropped == 0 and [f.camera for f in master.cameras.frames()] == ["image"]

    asyncio.run(asyncio.wait_for(_with_master(robot, check, camera_stream_hz=20, state_rate_hz=50,
                                              camera_on_demand=False), 30))
    renders = robot.renders
    time.sleep(0.4)
    assert robot.polled_while_disconnected == 0 and robot.renders == renders  # stopping waits for a render


def test_robots_without_cameras_send_nothing() -> None:
    robot = make_robots(load_edge_config().robots[:1], time_scale=0)[0]  # kinematic sim_arm

    async def check(master: Master, agent: EdgeAgent) -> None:
        await wait_until(lambda: agent.states_sent >= 3, what="state")
        assert master.cameras.frames() == [] and agent.cameras.sent == 0 and not agent.cameras.enabled

    asyncio.run(asyncio.wait_for(_with_master(robot, check, camera_stream_hz=20), 30))


def test_a_failing_camera_is_logged_and_the_agent_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(GradientCamera):
        def get_observation(self) -> dict[str, np.ndarray]:
            raise RuntimeError("renderer lost its context")

    async def check(master: Master, agent: EdgeAgent) -> None:
        await wait_until(lambda: agent.cameras.failed >= 3, what="failed polls")
        reply = await master.channel.call("cam1", {"skill": "wait_a_bit"}, timeout=2.0)
        assert reply.body["ok"] is True and master.cameras.frames() == []

    with caplog.at_level("WARNING", logger="roboos.edge.cameras"):
        asyncio.run(asyncio.wait_for(_with_master(Broken(), check, camera_stream_hz=20, camera_on_demand=False), 30))
    assert sum("renderer lost its context" in r.getMessage() for r in caplog.records) == 1  # logged once


def test_on_demand_streams_only_while_the_cloud_asks(caplog: pytest.LogCaptureFixture) -> None:
    robot = GradientCamera()

    async def check(master: Master, agent: EdgeAgent) -> None:
        await asyncio.sleep(0.3)  # 6 ticks at 20 Hz: nobody asked, nothing rendered or sent
        assert robot.renders == 0 and agent.cameras.sent == 0 and master.cameras.frames() == []
        assert await master.cameras.request(master.channel, ["cam1", "ghost"], for_s=0.6) == ["cam1"]
        assert await master.cameras.request(master.channel, ["cam1"], for_s=0.6) == []  # asked just now
        await wait_until(lambda: master.cameras.latest("cam1", "image") is not None, what="a demanded frame")
        await wait_until(lambda: not agent.cameras.wanted, timeout=5, what="the demand to expire")
        await asyncio.sleep(0.1)  # a frame in flight lands
        sent = agent.cameras.sent
        await asyncio.sleep(0.3)
        assert agent.cameras.sent == sent and sent >= 2  # stopped after the demand expired
        # a malformed demand is logged and ignored, the agent goes on
        await master.channel.send("cam1", Envelope(MsgType.EVENT, {"kind": "camera_demand", "data": {"for_s": -1}}))
        reply = await master.channel.call("cam1", {"skill": "wait_a_bit"}, timeout=2.0)
        assert reply.body["ok"] is True and not agent.cameras.wanted

    with caplog.at_level("WARNING", logger="roboos.edge.cameras"):
        asyncio.run(asyncio.wait_for(_with_master(robot, check, camera_stream_hz=20), 30))
    assert any("invalid camera demand ignored" in r.getMessage() for r in caplog.records)
