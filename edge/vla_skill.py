"""A skill that hands a subtask ("pick up the cup") to a VLA policy server and runs it on the robot.

The robot must accept low-level actions (:class:`ActionRobot`: ``apply_action`` and
``get_observation``); the skill streams observations to the policy server's ZeroMQ endpoint through an
:class:`~roboos.edge.chunks.ActionChunkBroker`, executes the returned chunks at the control rate and
returns a summary (ticks, chunks, latency, starvation, the policy's last subtask text when it has one).
Cancelling the call stops the robot at the next tick.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol, runtime_checkable

import numpy as np
from pydantic import Field
from roboos.edge.chunks import ActionChunkBroker, BlendMode
from roboos.skills.errors import SkillFailedError
from roboos.skills.sdk import SkillContext, SkillSpec, build_spec

from roboos.robot import Robot


@runtime_checkable
class ActionRobot(Protocol):
    """A robot a VLA can drive: observations in the policy's keys, one action per control tick."""

    def get_observation(self) -> dict[str, np.ndarray]: ...

    def apply_action(self, action: np.ndarray) -> None: ...


def vla_observation(robot: ActionRobot, instruction: str) -> dict[str, Any]:
    """The robot's observation plus the prompt; a state falls back to the robot's joint positions."""
    obs: dict[str, Any] = dict(robot.get_observation())
    if "state" not in obs and isinstance(robot, Robot):
        joints = robot.get_state().joints
        if joints is not None:
            obs["state"] = np.asarray(joints, dtype=np.float32)
    obs["prompt"] = instruction
    return obs


def make_vla_skill(
    endpoint: str,
    *,
    name: str = "vla_execute",
    control_hz: float = 20.0,
    blend: str = "average",
    embodiments: tuple[str, ...] = ("arm", "mobile_manipulator"),
    timeout: float = 300.0,
) -> SkillSpec:
    """Build the skill bound to one policy server (``tcp://host:port`` of ``roboos serve policy``)."""
    blend_mode = BlendMode(blend)

    async def vla_execute(
        robot: Robot,
        instruction: str,
        context: SkillContext,
        max_steps: Annotated[int, Field(ge=1, le=100_000)] = 200,
    ) -> dict[str, Any]:
        """Let the VLA policy carry out a short manipulation subtask from camera images.

        Args:
            instruction: the subtask in words, e.g. "pick up the red cup".
            max_steps: control ticks to run before handing control back.
        """
        from roboos.brain.policy_server.client import PolicyClient, PolicyRemoteError

        if not isinstance(robot, ActionRobot):
            raise SkillFailedError(f"robot '{robot.name}' does not accept low-level actions (apply_action)")
        try:
            async with PolicyClient(endpoint, name=robot.name) as client:
                meta = await client.metadata()
                broker = ActionChunkBroker(
                    client.infer,
                    lambda: vla_observation(robot, instruction),
                    robot.apply_action,
                    control_hz=control_hz,
                    blend=blend_mode,
                )
                stats = await broker.run(max_steps, should_stop=lambda: context.cancelled)
        except PolicyRemoteError as exc:
            raise SkillFailedError(f"the policy refused the observation: {exc}") from exc
        except TimeoutError as exc:
            raise SkillFailedError(f"the policy server at {endpoint} did not answer") from exc
        finally:
            if context.cancelled:
                robot.stop()
        context.check_cancelled()
        summary = stats.summary()
        summary["policy"] = meta.get("policy")
        if "subtask" in stats.last_result:
            summary["subtask"] = stats.last_result["subtask"]
        return summary

    return build_spec(
        vla_execute,
        name=name,
        embodiments=embodiments,
        timeout=timeout,
        tags=["vla", "manipulation"],
        effects=["robot.joints", "robot.holding"],
    )
