"""A ROS 2 camera topic reaches the cloud: sensor_msgs/Image -> bridge robot -> edge agent -> Master."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
from roboos.edge.camera_stream import has_cameras
from ros2_testlib import arm_options


def test_camera_topic_frames_reach_the_master(controller) -> None:
    from rclpy.qos import qos_profile_sensor_data
    from roboos.edge.agent import EdgeAgent
    from roboos.edge.ros2.robot import Ros2Arm
    from sensor_msgs.msg import Image

    from roboos.master.config import load_cloud_config
    from roboos.master.master import Master

    assert not has_cameras(Ros2Arm("arm0", arm_options()))  # no camera topic: nothing to stream
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :, 0] = np.arange(64, dtype=np.uint8)[None, :] * 4  # a red ramp, left to right
    frame[:, :, 2] = 200
    publisher = controller.node.create_publisher(Image, "/test_arm/camera", qos_profile_sensor_data)
    stop = threading.Event()

    def camera() -> None:
        msg = Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=frame.tobytes())
        while not stop.is_set():
            publisher.publish(msg)
            time.sleep(0.03)

    thread = threading.Thread(target=camera, daemon=True)
    thread.start()
    robot = Ros2Arm("arm1", arm_options(camera_topic="/test_arm/camera", camera_name="front",
                                        skills_as_services=False))
    assert has_cameras(robot)
    assert robot.profile()["cameras"] == ["front"]  # the name frames arrive under, not the topic

    async def main() -> None:
        master = Master(load_cloud_config(None, ["bind=tcp://127.0.0.1:0", "control_plane.enabled=false",
                                                 "dashboard.enabled=false", "memory.backend=local"]))
        await master.start()
        agent = EdgeAgent(robot, master.channel.endpoint, camera_stream_hz=10)
        await agent.start()
        runner = asyncio.create_task(agent.run())
        try:
            deadline = time.monotonic() + 15
            while master.cameras.latest("arm1", "front") is None:  # asked on demand, as the dashboard does
                assert time.monotonic() < deadline, "no camera frame reached the master"
                await master.cameras.request(master.channel, ["arm1"])
                await asyncio.sleep(0.05)
            got = master.cameras.latest("arm1", "front").image
            assert got.shape == (48, 64, 3) and np.array_equal(got, frame)  # small frames travel unchanged
        finally:
            await agent.stop()
            await runner
            await master.stop()

    try:
        asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        stop.set()
        thread.join(1)
