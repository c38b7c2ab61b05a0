"""Skills over ROS 2 both ways, action chunks through the controller, camera observations."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import numpy as np
import pytest
from ros2_testlib import JOINTS, arm_options, wait_until


@pytest.fixture
def ros_client():
    """A separate node (own context) acting as a ROS tool that calls the bridge's services."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("roboos_test_client", context=context)
    node.test_executor = SingleThreadedExecutor(context=context)
    try:
        yield node
    finally:
        node.test_executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)


def call_json_service(node, name: str, payload: str, timeout: float = 10.0):
    import rclpy
    from diagnostic_msgs.srv import AddDiagnostics

    client = node.create_client(AddDiagnostics, name)
    assert client.wait_for_service(timeout_sec=timeout), f"service {name} not offered"
    future = client.call_async(AddDiagnostics.Request(load_namespace=payload))
    rclpy.spin_until_future_complete(node, future, executor=node.test_executor, timeout_sec=timeout)
    assert future.done(), f"{name} did not answer"
    node.destroy_client(client)
    return future.result()


def test_robot_skills_are_ros_services(arm, controller, ros_client) -> None:
    reply = call_json_service(
        ros_client, "/arm1/skills/move_joints", json.dumps({"positions": {"wrist_2": 0.25}})
    )
    result = json.loads(reply.message)
    assert reply.success and result["ok"] and result["value"]["reached"]
    assert controller.positions[4] == pytest.approx(0.25, abs=0.02)

    bad = call_json_service(ros_client, "/arm1/skills/move_joints", json.dumps({"positions": "up"}))
    assert not bad.success and json.loads(bad.message)["error"]["code"] == "bad_arguments"
    not_json = call_json_service(ros_client, "/arm1/skills/move_joints", "{positions:")
    assert not not_json.success and "not JSON" in json.loads(not_json.message)["error"]["message"]
    missing = call_json_service(ros_client, "/arm1/skills/move_joints", "{}")
    assert "positions" in json.loads(missing.message)["error"]["message"]

    cards = json.loads(call_json_service(ros_client, "/arm1/skills_cards", "").message)
    assert {"move_joints", "move_to_pose", "execute_action_chunk"} <= {c["name"] for c in cards}
    assert cards[0]["parameters"]["type"] == "object"


def test_existing_ros_services_become_skills(controller) -> None:
    from roboos.edge.ros2.config import RosServiceSkill
    from roboos.edge.ros2.robot import Ros2Arm

    enable = RosServiceSkill(
        skill="enable_controller",
        service="/test_trajectory_controller/enable",
        type="std_srvs/srv/SetBool",
        description="Switch the controller on or off.",
    )
    robot = Ros2Arm("arm1", arm_options(ros_services=[enable], skills_as_services=False))
    robot.connect()
    try:
        spec = next(s for s in robot.skills() if s.name == "enable_controller")
        assert spec.json_schema()["properties"]["data"]["type"] == "boolean"
        result = asyncio.run(spec.run({"data": True}, robot=robot))
        assert result.ok, result.error
        assert result.value == {"success": True, "message": "enabled=True"} and controller.enabled
        bad = asyncio.run(spec.run({"data": "yes please"}, robot=robot))
        assert not bad.ok and bad.error["code"] == "bad_arguments"
    finally:
        robot.disconnect()


def test_missing_service_type_is_a_clear_error() -> None:
    from roboos.edge.ros2.config import RosServiceSkill
    from roboos.edge.ros2.errors import Ros2Unavailable
    from roboos.edge.ros2.services import ros_service_skill

    cfg = RosServiceSkill(skill="grip", service="/gripper/cmd", type="control_msgs/srv/QueryTrajectoryState")
    with pytest.raises(Ros2Unavailable, match="control_msgs/srv/QueryTrajectoryState is not installed"):
        ros_service_skill(cfg, lambda: None)


def test_action_chunks_stream_without_stopping(arm, controller) -> None:
    rate = 50.0
    ramp = np.arange(1, 26)[:, None] * (0.8 / rate) * np.ones((1, len(JOINTS)))
    arm.ros.execute_chunk(ramp, rate_hz=rate, wait=False)
    time.sleep(0.25)  # half of the chunk has run when the policy's next chunk arrives
    pos, _ = arm.ros._commanded_now(arm.ros.snapshot())
    second = pos + 0.03 + np.arange(1, 26)[:, None] * (0.8 / rate)
    arm.ros.execute_chunk(second, rate_hz=rate, wait=True)
    sent = controller.received[-1]
    first_point = np.array(sent.points[0].positions)
    assert np.all(first_point - pos < 0.8 / rate * 2)  # continues from the motion in progress, no jump
    assert all(v > 0 for v in sent.points[0].velocities)  # and keeps moving at the boundary
    np.testing.assert_allclose(controller.positions, second[-1], atol=0.02)


def test_execute_action_chunk_skill(arm, controller) -> None:
    spec = next(s for s in arm.skills() if s.name == "execute_action_chunk")
    chunk = [[0.01 * k] * len(JOINTS) for k in range(1, 11)]
    result = asyncio.run(spec.run({"actions": chunk, "rate_hz": 20}, robot=arm))
    assert result.ok, result.error
    assert result.value["steps"] == 10
    np.testing.assert_allclose(controller.positions, [0.1] * 6, atol=0.02)
    ragged = asyncio.run(spec.run({"actions": [[0.1, 0.2]]}, robot=arm))
    assert not ragged.ok and "expected shape (T, 6)" in ragged.error["message"]


def test_camera_images_become_observations(controller) -> None:
    from rclpy.qos import qos_profile_sensor_data
    from roboos.edge.ros2.robot import Ros2Arm
    from sensor_msgs.msg import Image

    robot = Ros2Arm("arm1", arm_options(camera_topic="/test_arm/camera", skills_as_services=False))
    robot.connect()
    publisher = controller.node.create_publisher(Image, "/test_arm/camera", qos_profile_sensor_data)
    try:
        frame = np.zeros((4, 5, 3), dtype=np.uint8)
        frame[..., 0] = 200  # red in RGB
        msg = Image(height=4, width=5, encoding="bgr8", step=15, data=frame[..., ::-1].tobytes())
        stop = threading.Event()

        def publish() -> None:
            while not stop.is_set():
                publisher.publish(msg)
                time.sleep(0.02)

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        wait_until(lambda: "observation/images/base_0_rgb" in robot.get_observation(), what="an image")
        stop.set()
        thread.join(1)
        obs = robot.get_observation()
        image = obs["observation/images/base_0_rgb"]
        assert image.shape == (4, 5, 3) and image[0, 0].tolist() == [200, 0, 0]
        assert obs["state"].shape == (6,) and obs["state"].dtype == np.float32
    finally:
        robot.disconnect()
