"""Run the dashboard next to the master, in the same event loop (uvicorn on a socket we bind)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

from roboos.dashboard.config import DashboardConfig, is_loopback, split_bind

log = logging.getLogger("roboos.dashboard")


class DashboardError(RuntimeError):
    """The dashboard cannot start (bad bind, missing token off loopback, missing extra); says why."""


class DashboardBindError(DashboardError):
    """The dashboard's address is taken or not available (the cloud can run on without it)."""


class DashboardServer:
    """A started dashboard: ``url`` to open, ``stop()`` to shut it down."""

    def __init__(
        self,
        server: Any,
        serve_task: asyncio.Task[None],
        sampler: Any,
        store: Any,
        host: str,
        port: int,
        token: str | None,
        tls: bool = False,
    ) -> None:
        self._server = server
        self.tls = tls
        self._task = serve_task
        self.sampler = sampler
        self._store = store
        self.host, self.port, self.token = host, port, token

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    async def stop(self) -> None:
        """End the event streams, then stop serving (forced after 3 s)."""
        self._server.config.app.state.closing.set()
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 3.0)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - open SSE streams: force the exit
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self.sampler.stop()
        if self._store is not None:
            self._store.close()


async def start_dashboard(master: Any, config: DashboardConfig | None = None) -> DashboardServer:
    """Bind ``config.bind`` and serve the dashboard for ``master`` until :meth:`DashboardServer.stop`."""
    config = config or DashboardConfig()
    try:
        import uvicorn

        from roboos.dashboard.app import create_app
    except ImportError as exc:
        raise DashboardError(
            f"the dashboard needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'roboos[dashboard]'"
        ) from None
    from roboos.dashboard.latency import RttSampler

    try:
        host, port = split_bind(config.bind)
    except ValueError as exc:
        raise DashboardError(str(exc)) from None
    token = os.environ.get(config.token_env) or None if config.token_env else None
    if not is_loopback(host) and not token:
        raise DashboardError(
            f"dashboard.bind {config.bind} is reachable from other machines: set an access token "
            f"in ${config.token_env or 'ROBOOS_DASHBOARD_TOKEN'} (dashboard.token_env) "
            "or bind 127.0.0.1"
        )
    from roboos.tls import TLSConfigError, check_tls_files

    try:
        tls = check_tls_files(config.tls_cert, config.tls_key, owner="dashboard")
    except TLSConfigError as exc:
        raise DashboardError(str(exc)) from None
    store = None
    if config.skill_store:
        from roboos.skills.store import SkillStore

        store = SkillStore(os.path.expanduser(config.skill_store))
    sock = _bind(host, port)
    sampler = RttSampler(master.channel, interval_s=config.sample_interval_s, keep=config.rtt_samples)
    app = create_app(
        master,
        token=token,
        sampler=sampler,
        store=store,
        interval_s=config.sample_interval_s,
        loopback_only=is_loopback(host),
    )
    server = _QuietServer(
        uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1,
            **(tls.uvicorn_options() if tls else {}),
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]), name="dashboard")
    while not server.started:
        if task.done():
            sock.close()
            raise DashboardError(f"the dashboard did not start on {config.bind}: {task.exception()}")
        await asyncio.sleep(0.02)
    sampler.start()
    bound_port = sock.getsockname()[1]
    dash = DashboardServer(server, task, sampler, store, host, bound_port, token, tls=tls is not None)
    log.info("dashboard on %s", dash.url)
    return dash


def _quiet_server_class() -> type:
    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn without its signal handlers: the CLI (``roboos cloud``) owns SIGINT/SIGTERM."""

        @contextlib.contextmanager
        def capture_signals(self):
            yield

    return QuietServer


def _QuietServer(config: Any) -> Any:
    return _quiet_server_class()(config)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DashboardBindError(
            f"cannot bind the dashboard to {host}:{port}: {exc.strerror or exc} "
            "(set dashboard.bind, or dashboard.enabled=false)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
