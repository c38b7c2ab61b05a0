"""Start the pieces of a RoboOS deployment on one machine: the cloud (master + control plane) and the
simulated edge agents of an edge config as a child ``roboos edge`` process.

Used by ``roboos cloud``, ``roboos up`` and ``roboos run``. The edges run in a separate process on
purpose: it is the deployment's real shape (cloud and edge talk only over TCP), a crash or a blocking
skill in the edge cannot stall the master, and the edge's logs go to a file instead of the live view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roboos.gc_freeze import freeze_startup_objects
from roboos.master.config import CloudConfig
from roboos.master.master import Master

log = logging.getLogger("roboos.master.launch")


@dataclass
class CloudStack:
    """A running master and (when available and enabled) its gRPC control plane."""

    master: Master
    control_plane: Any = None
    notes: list[str] = field(default_factory=list)
    dashboard: Any = None  # roboos.dashboard.DashboardServer when started (``url``)

    @property
    def control_address(self) -> str | None:
        return getattr(self.control_plane, "address", None)

    async def stop(self) -> None:
        if self.dashboard is not None:
            with contextlib.suppress(Exception):
                await self.dashboard.stop()
        if self.control_plane is not None:
            with contextlib.suppress(Exception):
                await self.control_plane.stop()
        await self.master.stop()


async def start_cloud(config: CloudConfig, *, planner: Any = None, control_plane: bool | None = None,
                      dashboard: bool | None = False, freeze_gc: bool = False) -> CloudStack:
    """Start the master, then the control plane (``control_plane.enabled``, overridable by argument), then
    the web dashboard when ``dashboard`` is True (``None``: ``dashboard.enabled``; ``roboos cloud``/``up``).
    ``freeze_gc`` (``roboos cloud``, a process that runs only the cloud) ends with
    :func:`freeze_startup_objects`; left off in processes that start and stop clouds repeatedly (tests)."""
    master = Master(config, planner=planner)
    try:
        await master.start()
    except BaseException:
        await master.stop()
        raise
    stack = CloudStack(master)
    if config.control_plane.enabled if control_plane is None else control_plane:
        from roboos.controlplane import start_control_plane

        plane = config.control_plane
        token = os.environ.get(plane.token_env) if plane.token_env else None
        try:
            stack.control_plane = await start_control_plane(master, plane.bind, token=token,
                                                            tls_cert=plane.tls_cert, tls_key=plane.tls_key,
                                                            extra_servicers=_skill_store_servicers(config))
        except BaseException:
            await master.stop()
            raise
    if config.dashboard.enabled if dashboard is None else dashboard:
        await _start_dashboard(stack, config)
    if freeze_gc:
        freeze_startup_objects()
    return stack


def _skill_store_servicers(config: CloudConfig) -> list[Any]:
    """The skill-store gRPC service when ``control_plane.skill_store`` names a store file."""
    if not config.control_plane.skill_store:
        return []
    from roboos.skills.store import SkillStore
    from roboos.skills.store.service import skillstore_servicer

    return [skillstore_servicer(SkillStore(Path(config.control_plane.skill_store).expanduser()))]


async def _start_dashboard(stack: CloudStack, config: CloudConfig) -> None:
    """The web dashboard next to the master; without the ``dashboard`` extra only a note."""
    import importlib.util

    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        stack.notes.append("dashboard not available: pip install 'roboos[dashboard]' (FastAPI + uvicorn)")
        return
    from roboos.dashboard import DashboardBindError, start_dashboard

    try:
        stack.dashboard = await start_dashboard(stack.master, config.dashboard)
    except DashboardBindError as exc:  # e.g. a second cloud on this host: it runs on without a dashboard
        stack.notes.append(f"dashboard not started: {exc}")
    except BaseException:
        await stack.stop()
        raise


class EdgeLaunchError(RuntimeError):
    """The edge process did not start or its robots did not register; the message has its log tail."""


class EdgeProcess:
    """``roboos edge`` as a child process, connected to ``cloud``; its output goes to a log file."""

    def __init__(self, cloud: str, *, config: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                 time_scale: float | None = None, log_path: Path | None = None, robots: list[str] | tuple[str, ...] = ()) -> None:
        self.cloud = cloud
        self.args = [sys.executable, "-m", "roboos.cli.main", "edge", "--cloud", cloud, "--log-level", "INFO"]
        if config is not None:
            self.args += ["--config", str(config)]
        for robot in robots:  # only these robots of the config (default: all)
            self.args += ["--robot", robot]
        for item in overrides:
            self.args += ["--set", item]
        if time_scale is not None:
            self.args += ["--time-scale", repr(float(time_scale))]
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="roboos-edge-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_registered(self, master: Master, robots: list[str], timeout: float = 30.0) -> None:
        """Wait until every robot of ``robots`` is online at ``master``; raise :class:`EdgeLaunchError`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            missing = [r for r in robots if not master.registry.is_online(r)]
            if not missing:
                return
            if not self.alive():
                raise EdgeLaunchError(f"the edge process exited with code {self.proc.returncode if self.proc else '?'}"
                                      f"; its log ({self.log_path}):\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        missing = [r for r in robots if not master.registry.is_online(r)]
        raise EdgeLaunchError(f"robots {', '.join(missing)} did not register within {timeout:g} s; "
                              f"edge log ({self.log_path}):\n{self.log_tail()}")

    async def stop(self, timeout: float = 10.0) -> int | None:
        """SIGINT (the edge stops its robots and says BYE), then SIGKILL after ``timeout``."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            return await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            return await asyncio.to_thread(proc.wait)


def edge_robot_names(config: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The robot names of an edge config (validated; a bad file raises ``ConfigError``)."""
    from roboos.edge.config import load_edge_config

    return [r.name for r in load_edge_config(config, list(overrides)).robots]
