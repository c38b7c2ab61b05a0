"""Configuration of the cloud master (``configs/cloud.yaml``), loaded with :func:`load_cloud_config`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roboos.config import load_config
from roboos.memory.config import MemoryConfig
from roboos.channel.keystore import CloudSecurityConfig
from roboos.dashboard.config import DashboardConfig


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeartbeatConfig(_Model):
    """Liveness: edges beat every ``interval_s``; silent for ``timeout_s`` -> offline."""

    interval_s: float = Field(default=0.5, gt=0)
    timeout_s: float = Field(default=2.0, gt=0)


class ControlPlaneConfig(_Model):
    """The gRPC control plane served next to the master (``roboos cloud``)."""

    enabled: bool = True
    bind: str = "127.0.0.1:7701"
    token_env: str | None = None  # name of the environment variable holding the access token
    skill_store: str | None = None  # a skill-store SQLite file served over gRPC (roboos skills --address)
    tls_cert: str | None = None  # PEM certificate; with tls_key the control plane speaks TLS only
    tls_key: str | None = None  # PEM private key (clients: ControlClient(tls_ca=...) or $ROBOOS_TLS_CA)


class LLMPlannerConfig(_Model):
    """An OpenAI-compatible chat endpoint (RoboBrain behind vLLM / FlagScale / the brain server)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "robobrain2.0"
    api_key_env: str = "ROBOOS_LLM_API_KEY"  # read at start; an absent variable sends no key
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1024, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=10)  # tries per planning request, errors fed back


class PlannerConfig(_Model):
    """Which planner the master uses: the offline rule-based one (default) or an LLM."""

    kind: Literal["offline", "llm"] = "offline"
    llm: LLMPlannerConfig = Field(default_factory=LLMPlannerConfig)


class ExecutorConfig(_Model):
    """How plans run: per-step timeout, retries of a failed step, replans of a failed task."""

    step_timeout_s: float | None = Field(default=None, gt=0)  # None: the skill card's timeout + margin
    timeout_margin_s: float = Field(default=5.0, ge=0)
    max_step_retries: int = Field(default=1, ge=0, le=10)
    max_replans: int = Field(default=2, ge=0, le=10)
    wait_robot_s: float = Field(default=3.0, ge=0)  # how long a step waits for its robot to come back


class CloudConfig(_Model):
    """The whole cloud configuration; see ``configs/cloud.yaml``."""

    name: str = "cloud"
    bind: str = "tcp://127.0.0.1:7700"  # the ZeroMQ ROUTER edges connect to
    scene: str = "scenes/household.yaml"  # a path, or a file under the package's configs/
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    control_plane: ControlPlaneConfig = Field(default_factory=ControlPlaneConfig)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    security: CloudSecurityConfig = Field(default_factory=CloudSecurityConfig)  # CURVE (auto: off loopback)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)  # web UI of roboos cloud / up
    # finished tasks kept in RAM (watch / list); older ones are read back from the memory store on demand
    tasks_in_memory: int = Field(default=1000, ge=0)


def load_cloud_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> CloudConfig:
    """Load ``configs/cloud.yaml`` (or ``path``) with ``key=value`` overrides; errors name file and key."""
    return load_config(CloudConfig, path, overrides, default="cloud.yaml")
