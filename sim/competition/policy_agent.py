"""The ``policy`` competition agent: a VLA policy served over openpi websockets or RoboOS ZeroMQ.

Each control cycle sends an openpi-style observation (``observation/image``, ``observation/wrist_image``,
``observation/state``, ``prompt``) to the policy server and executes the returned action chunk in the
gymnasium environment, one row per control step. The first 7 action dimensions are the environment's
action (6 joint targets + gripper command); a shorter action is an error. The state is zero-padded or cut
to the policy's state dimension when its metadata gives one.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlparse

import numpy as np

from roboos.sim.mujoco.env import RoboOSSimEnv
from roboos.sim.mujoco.robots import MujocoArmRobot
from roboos.sim.mujoco.world import MujocoWorld
from roboos.sim.tasks.spec import Episode


class PolicyConnection:
    """A synchronous client for either protocol: ``ws://host:port`` or ``tcp://host:port``."""

    def __init__(self, endpoint: str, timeout: float = 60.0) -> None:
        self.endpoint, self.timeout = endpoint, timeout
        url = urlparse(endpoint)
        self._loop: asyncio.AbstractEventLoop | None = None
        if url.scheme in ("ws", "wss"):
            try:
                from openpi_client.websocket_client_policy import WebsocketClientPolicy
            except ImportError:
                raise RuntimeError("ws:// policies need the openpi client: pip install openpi-client") from None

            self._ws = WebsocketClientPolicy(host=f"{url.scheme}://{url.hostname}", port=url.port)
            self.metadata: dict[str, Any] = dict(self._ws.get_server_metadata() or {})
        elif url.scheme == "tcp":
            from roboos.brain.policy_server.client import PolicyClient

            self._ws = None
            self._loop = asyncio.new_event_loop()
            self._client = PolicyClient(endpoint, name="sim-policy-agent")
            self._loop.run_until_complete(self._client.connect())
            self.metadata = self._loop.run_until_complete(self._client.metadata(timeout=timeout))
        else:
            raise ValueError(f"policy endpoint must be ws://host:port or tcp://host:port, got '{endpoint}'")

    def infer(self, obs: dict[str, Any]) -> np.ndarray:
        if self._ws is not None:
            out = self._ws.infer(obs)
        else:
            assert self._loop is not None
            out = self._loop.run_until_complete(self._client.infer(obs, timeout=self.timeout))
        actions = np.asarray(out["actions"], dtype=np.float32)
        if actions.ndim == 1:
            actions = actions[None, :]
        if actions.ndim != 2 or actions.shape[1] < 7:
            raise ValueError(f"the policy returned actions of shape {actions.shape}; need (H, >= 7)")
        return actions

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self._client.close())
            self._loop.close()


def openpi_observation(obs: dict[str, Any], state_dim: int | None) -> dict[str, Any]:
    state = np.asarray(obs["state"], dtype=np.float32)
    if state_dim:
        state = np.pad(state, (0, max(0, state_dim - state.size)))[:state_dim]
    return {"observation/image": obs["image"], "observation/wrist_image": obs["wrist_image"],
            "observation/state": state, "prompt": obs["instruction"]}


def run_policy_agent(episode: Episode, world: MujocoWorld, robots: list[MujocoArmRobot], recorder: Any, *,
                     endpoint: str, start_z: dict[str, float] | None = None, max_chunk: int = 10,
                     control_hz: float = 10.0, timeout: float = 60.0, image_size: int | None = None,
                     max_sim_s: float | None = None) -> dict[str, Any]:
    """Drive the episode with the served policy until success or the task's time limit.

    Images are rendered at the policy's ``image_size`` (from its metadata) unless given; ``max_sim_s``
    stops earlier than the task's time limit (quick checks).
    """
    conn = PolicyConnection(endpoint, timeout=timeout)
    size = int(image_size or conn.metadata.get("image_size") or 224)
    env = RoboOSSimEnv.attach(episode, world, robots, control_hz=control_hz, image_size=size)
    state_dim = conn.metadata.get("state_dim") or conn.metadata.get("action_dim")
    chunks = 0
    t0 = world.time
    try:
        obs = env.observation()
        done = False
        while not done and (max_sim_s is None or world.time - t0 < max_sim_s):
            actions = conn.infer(openpi_observation(obs, int(state_dim) if state_dim else None))
            chunks += 1
            for row in actions[:max_chunk]:
                obs, _, terminated, truncated, _ = env.step(row[:7])
                if terminated or truncated:
                    done = True
                    break
            recorder.capture()
    finally:
        conn.close()
    return {"policy_chunks": chunks}
