"""VLA control through the bridge: per-tick actions streamed as setpoints; a real (tiny π0) policy server."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from ros2_testlib import JOINTS, arm_options, wait_until
from roboos.edge.ros2.errors import Ros2BridgeError, StaleJointStateError


def test_apply_action_streams_setpoints_that_flow_into_each_other(arm, controller) -> None:
    rate = arm.options.policy_rate_hz
    before = len(controller.received)
    targets = [np.full(len(JOINTS), 0.01 * k) for k in range(1, 21)]
    for target in targets:
        arm.apply_action(np.concatenate([target, [0.5, 0.5]]))  # padded actions: extra values ignored
        time.sleep(1.0 / rate)
    streamed = controller.received[before:]
    assert len(streamed) == 20 and all(len(m.points) == 1 for m in streamed)
    middle = streamed[10].points[0]
    assert middle.velocities[0] == pytest.approx(0.01 * rate, rel=0.5)  # keeps moving between ticks
    wait_until(lambda: abs(controller.positions[0] - 0.2) < 0.02, what="last setpoint reached")


def test_delta_actions_and_bad_actions(controller) -> None:
    from roboos.edge.ros2.robot import Ros2Arm

    robot = Ros2Arm("arm1", arm_options(action_mode="delta", action_scale=0.5, skills_as_services=False))
    robot.connect()
    try:
        wait_until(lambda: robot.ros.controller_connected() and robot.ros.state_age() is not None)
        for _ in range(4):
            robot.apply_action(np.full(len(JOINTS), 0.1))  # 4 x 0.5 x 0.1 = 0.2 rad
            time.sleep(0.02)
        wait_until(lambda: abs(controller.positions[3] - 0.2) < 0.02, what="delta target")
        with pytest.raises(Ros2BridgeError, match="at least 6 values"):
            robot.apply_action(np.zeros(3))
        controller.publishing = False
        wait_until(lambda: robot.get_state().extra["stale"], what="stale state")
        with pytest.raises(StaleJointStateError):
            robot.apply_action(np.zeros(6))
    finally:
        controller.publishing = True
        robot.disconnect()


@pytest.mark.slow
def test_vla_skill_drives_the_controller_from_a_policy_server(controller) -> None:
    """`roboos serve policy`'s server (tiny random π0 on CPU) → vla_execute skill → bridge → controller."""
    pytest.importorskip("torch")
    from rclpy.qos import qos_profile_sensor_data
    from roboos.brain.policies.pi0.policy import Pi0Policy
    from roboos.brain.policy_server.server import BackgroundPolicyServer
    from roboos.edge.ros2.robot import Ros2Arm
    from sensor_msgs.msg import Image

    policy = Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0)
    publisher = controller.node.create_publisher(Image, "/test_arm/camera", qos_profile_sensor_data)
    stop = threading.Event()

    def camera() -> None:
        frame = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
        msg = Image(height=32, width=32, encoding="rgb8", step=96, data=frame.tobytes())
        while not stop.is_set():
            publisher.publish(msg)
            time.sleep(0.03)

    thread = threading.Thread(target=camera, daemon=True)
    thread.start()
    with BackgroundPolicyServer(policy, port=None, zmq_bind="tcp://127.0.0.1:0") as server:
        robot = Ros2Arm(
            "arm1",
            arm_options(
                camera_topic="/test_arm/camera",
                vla_endpoint=server.addresses.zmq,
                policy_rate_hz=20.0,
                skills_as_services=False,
            ),
        )
        robot.connect()
        try:
            wait_until(lambda: len(robot.get_observation()) == 2 and robot.ros.controller_connected())
            spec = next(s for s in robot.skills() if s.name == "vla_execute")
            before = len(controller.received)
            result = asyncio.run(spec.run({"instruction": "wave", "max_steps": 20}, robot=robot))
            assert result.ok, result.error
            assert result.value["ticks"] == 20 and result.value["policy"] == "pi0"
            streamed = controller.received[before:]
            assert len(streamed) >= 15 and all(len(m.points) == 1 for m in streamed)
            assert np.all(np.isfinite([m.points[0].positions for m in streamed]))
        finally:
            stop.set()
            thread.join(1)
            robot.disconnect()
