"""Configuration of the web dashboard served by the cloud (``dashboard:`` in ``configs/cloud.yaml``)."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field


class DashboardConfig(BaseModel):
    """Where the dashboard listens and who may use it.

    ``bind`` is ``host:port`` (port 0 picks a free one). Bound beyond loopback, a token is required:
    the environment variable named by ``token_env`` must hold it, or the dashboard refuses to start.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    bind: str = "127.0.0.1:7780"
    token_env: str | None = "ROBOOS_DASHBOARD_TOKEN"  # a set variable turns auth on (also on loopback)
    skill_store: str | None = None  # path of a skill-store SQLite file to browse/search (None: none)
    tls_cert: str | None = None  # PEM certificate (chain): with tls_key the dashboard serves HTTPS only
    tls_key: str | None = None  # PEM private key of tls_cert, mode 0600
    sample_interval_s: float = Field(default=0.5, gt=0)  # live-update and RTT sampling period
    rtt_samples: int = Field(default=2000, ge=10, le=100_000)  # RTT samples kept per robot


def split_bind(bind: str) -> tuple[str, int]:
    """``"host:port"`` -> ``(host, port)``; ``ValueError`` with the reason on a malformed value."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host:
        raise ValueError(f"dashboard.bind '{bind}' must be host:port")
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"dashboard.bind '{bind}': port '{port}' is not a number") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"dashboard.bind '{bind}': port {number} is out of range")
    return host, number


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
