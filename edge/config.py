"""Edge configuration (``configs/edge.yaml``): the cloud endpoint and the robots this process drives.

Loaded with :func:`load_edge_config` through :func:`roboos.config.load_config`, so a bad file gets an
error naming file, key and problem (``edge.yaml: robots.1.kind: unknown robot kind 'sim_rover' ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from roboos.config import KeyedConfigError, load_config
from roboos.edge.limits import LimitsConfig
from roboos.edge.watchdog import WatchdogConfig

RobotName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RobotConfig(_Model):
    """One robot driven by this edge process."""

    name: RobotName
    kind: str = Field(min_length=1)  # a registered robot kind, see roboos.edge.robots
    embodiment: str | None = None  # default: the kind's embodiment
    options: dict[str, Any] = Field(default_factory=dict)  # validated by the kind's options model
    state_rate_hz: float | None = Field(default=None, gt=0, le=1000)  # default: EdgeConfig.state_rate_hz
    limits: LimitsConfig | None = None  # joint / velocity / workspace limits enforced on the edge
    skills_dir: str | None = None  # skill packages installed here (`roboos skills install`) load at start
    camera_stream_hz: float | None = Field(default=None, ge=0, le=30)  # default: EdgeConfig.camera_stream_hz


class HeartbeatConfig(_Model):
    interval_s: float = Field(default=0.5, gt=0)
    cloud_timeout_s: float = Field(default=2.0, gt=0)  # no word from the cloud this long -> link down


class SecurityConfig(_Model):
    """CURVE keys of the edge (see ``roboos.channel.security``): its key pair and the cloud's public key."""

    key_dir: str
    key_name: str
    cloud_public_key: str  # path of the cloud's ``.key`` file


class EdgeConfig(_Model):
    """The whole edge configuration; see ``configs/edge.yaml``."""

    cloud: str = Field(default="tcp://127.0.0.1:7700", pattern=r"^(tcp|ipc|inproc)://\S+$")
    scene: str = "scenes/household.yaml"  # simulated robots: a path, or a file under configs/
    time_scale: float | None = Field(default=None, ge=0)  # overrides the scene's time_scale
    state_rate_hz: float = Field(default=5.0, gt=0, le=1000)
    camera_stream_hz: float = Field(default=2.0, ge=0, le=30)  # camera frames to the cloud; 0 = off
    camera_max_side: int = Field(default=320, ge=16, le=1024)  # streamed frames are shrunk to fit this (px)
    camera_on_demand: bool = True  # stream only while the cloud asks (a dashboard shows the Cameras view)
    call_timeout_margin_s: float = Field(default=0.0, ge=0)  # added to each skill's own timeout
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    security: SecurityConfig | None = None
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)  # stops robots when the cloud is silent
    robots: list[RobotConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_robots(self) -> EdgeConfig:
        from roboos.edge.robots import UnknownRobotKind, validate_options

        seen: set[str] = set()
        for i, robot in enumerate(self.robots):
            if robot.name in seen:
                raise KeyedConfigError(f"robots.{i}.name", f"duplicate robot name '{robot.name}'")
            seen.add(robot.name)
            try:
                validate_options(robot.kind, robot.options)
            except UnknownRobotKind as exc:
                raise KeyedConfigError(f"robots.{i}.kind", str(exc)) from None
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                loc = ".".join(str(p) for p in err["loc"])
                raise KeyedConfigError(f"robots.{i}.options.{loc}".rstrip("."), err["msg"]) from None
        return self

    def robot(self, name: str) -> RobotConfig:
        for robot in self.robots:
            if robot.name == name:
                return robot
        raise KeyError(f"no robot '{name}' in the edge config; robots: {', '.join(r.name for r in self.robots)}")


def load_edge_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> EdgeConfig:
    """Load ``configs/edge.yaml`` (or ``path``) with ``key=value`` overrides."""
    return load_config(EdgeConfig, path, overrides, default="edge.yaml")
