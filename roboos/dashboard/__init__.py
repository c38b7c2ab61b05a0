"""The RoboOS web dashboard: robots, tasks (submit + plan DAG), skills, history replay, cameras and the
channel, served by the cloud (``roboos cloud`` / ``roboos up``) as plain HTML/JS/CSS over a JSON API.

FastAPI and uvicorn come with the ``dashboard`` extra; :func:`start_dashboard` raises
:class:`DashboardError` with the install hint when they are missing.
"""

from roboos.dashboard.config import DashboardConfig
from roboos.dashboard.server import DashboardBindError, DashboardError, DashboardServer, start_dashboard

__all__ = ["DashboardBindError", "DashboardConfig", "DashboardError", "DashboardServer", "start_dashboard"]
