"""Run the edge agents of one config in one process until Ctrl-C / SIGTERM (``roboos edge``).

Robots of the same simulated world (kinematic kinds) share one world object, so several robots in one
process see each other's changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from roboos.edge.agent import EdgeAgent
from roboos.edge.config import EdgeConfig, RobotConfig
from roboos.edge.limits import install_limits
from roboos.edge.watchdog import attach_watchdog
from roboos.edge.robots import make_robots
from roboos.robot import Robot
from roboos.skills import SkillRegistry

log = logging.getLogger("roboos.edge")


def select_robots(config: EdgeConfig, names: Sequence[str] = ()) -> EdgeConfig:
    """Keep only the named robots (all when ``names`` is empty); unknown names raise ``KeyError``."""
    if not names:
        return config
    chosen = [config.robot(n) for n in names]
    return config.model_copy(update={"robots": chosen})


def channel_security(config: EdgeConfig) -> Any:
    """The CURVE settings of the config's ``security`` section (``None`` when absent)."""
    if config.security is None:
        return None
    from roboos.channel.security import ChannelSecurity, load_keypair, load_public_key

    sec = config.security
    return ChannelSecurity.for_edge(load_keypair(sec.key_dir, sec.key_name), load_public_key(sec.cloud_public_key))


def robot_registry(robot: Robot, robot_cfg: RobotConfig) -> SkillRegistry:
    """The robot's own skills plus those of the packages installed in its ``skills_dir``."""
    registry = SkillRegistry(robot.skills(), robot.embodiment)
    if robot_cfg.skills_dir:
        from roboos.skills.store.loader import load_installed_skills

        for spec in load_installed_skills(Path(robot_cfg.skills_dir).expanduser(), embodiment=robot.embodiment):
            if spec.name in registry:
                log.warning("%s: installed skill '%s' shadows a built-in skill; keeping the built-in",
                            robot.name, spec.name)
                continue
            registry.register(spec)
    return registry


def build_agents(config: EdgeConfig, worlds: dict[str, Any] | None = None) -> list[EdgeAgent]:
    """One :class:`EdgeAgent` per configured robot (robots built through the kind registry)."""
    robots = make_robots(config.robots, scene=config.scene, time_scale=config.time_scale, worlds=worlds)
    security = channel_security(config)
    agents = []
    for robot_cfg, robot in zip(config.robots, robots):
        agents.append(EdgeAgent(
            robot, config.cloud,
            registry=robot_registry(robot, robot_cfg),
            state_rate_hz=robot_cfg.state_rate_hz or config.state_rate_hz,
            camera_stream_hz=config.camera_stream_hz if robot_cfg.camera_stream_hz is None
            else robot_cfg.camera_stream_hz,
            camera_max_side=config.camera_max_side,
            camera_on_demand=config.camera_on_demand,
            heartbeat_interval_s=config.heartbeat.interval_s,
            cloud_timeout_s=config.heartbeat.cloud_timeout_s,
            call_timeout_margin_s=config.call_timeout_margin_s,
            security=security,
        ))
        if config.watchdog.enabled:
            attach_watchdog(agents[-1], config.watchdog)
        if robot_cfg.limits is not None:
            install_limits(agents[-1], robot_cfg.limits)
    return agents


async def run_agents(agents: Sequence[EdgeAgent], *, handle_signals: bool = True,
                     on_started: Callable[[Sequence[EdgeAgent]], Any] | None = None) -> None:
    """Run agents until SIGINT/SIGTERM (or until every agent stops); always shuts them all down."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=max(8, 4 * len(agents)),
                                                 thread_name_prefix="roboos-skill"))
    installed: list[int] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, _request_stop, agents, sig)
                installed.append(sig)
    try:
        for agent in agents:
            await agent.start()
        if on_started is not None:
            on_started(agents)
        await asyncio.gather(*(agent.run() for agent in agents))
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        for agent in agents:  # agents that never reached run() still release their robot
            await agent.close()


def _request_stop(agents: Sequence[EdgeAgent], sig: int) -> None:
    log.info("received %s: stopping %d edge agent(s)", signal.Signals(sig).name, len(agents))
    for agent in agents:
        asyncio.get_running_loop().create_task(agent.stop())
