"""``roboos ros2 bridge|info``: run the ROS 2 bridge for a robot, check the ROS 2 installation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

ros2_app = typer.Typer(
    help="ROS 2 bridge: drive ROS 2 robot controllers from RoboOS skills and VLA chunks.",
    no_args_is_help=True,
)

DEFAULT_CONFIG = "edge_ros2.yaml"
EXIT_CONFIG = 2


def register(app: typer.Typer) -> None:
    app.add_typer(ros2_app, name="ros2")


@ros2_app.command("bridge")
def bridge(
    robot: Annotated[
        str, typer.Option("--robot", "-r", help="Robot of the edge config to bridge (a ros2_* kind).")
    ],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help=f"Edge config YAML (default: configs/{DEFAULT_CONFIG})."),
    ] = None,
    overrides: Annotated[
        list[str],
        typer.Option(
            "--set", help="Override a config key, e.g. --set robots.0.options.stale_after_s=1 (repeatable)."
        ),
    ] = [],  # noqa: B006
    cloud: Annotated[
        str | None, typer.Option("--cloud", help="Cloud endpoint, e.g. tcp://10.0.0.5:7700.")
    ] = None,
    no_cloud: Annotated[
        bool,
        typer.Option(
            "--no-cloud",
            help="Only the ROS side: joint state, trajectories and "
            "the skills as ROS 2 services; no cloud connection.",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="Python logging level.")] = "INFO",
) -> None:
    """Run the ROS 2 bridge of one robot until Ctrl-C: an edge agent whose robot is a ROS 2 controller.

    The robot's skills are also offered as ROS 2 services under /<robot>/skills/<skill>
    (diagnostic_msgs/srv/AddDiagnostics: JSON arguments in, JSON result out).
    """
    import asyncio
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from roboos.config import ConfigError
    from roboos.edge.config import load_edge_config
    from roboos.edge.ros2.errors import Ros2BridgeError
    from roboos.edge.runner import build_agents, run_agents, select_robots

    console = Console(stderr=True)
    logging.basicConfig(
        level=log_level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    sets = list(overrides) + ([f"cloud={cloud}"] if cloud else [])
    try:
        cfg = select_robots(load_edge_config(config or _default_config(), sets), [robot])
    except ConfigError as exc:
        console.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(EXIT_CONFIG) from None
    except KeyError as exc:
        console.print(f"[red]error:[/] {exc.args[0]}")
        raise typer.Exit(EXIT_CONFIG) from None
    kind = cfg.robots[0].kind
    if not kind.startswith("ros2_"):
        console.print(
            f"[red]error:[/] robot '{robot}' is of kind '{kind}', not a ROS 2 kind (ros2_arm, "
            "ros2_household_arm)"
        )
        raise typer.Exit(EXIT_CONFIG)
    try:
        if no_cloud:
            asyncio.run(_serve_ros_only(cfg, console))
        else:
            agents = build_agents(cfg)
            asyncio.run(
                run_agents(agents, on_started=lambda a: _print_bridge(console, a[0].robot, cfg.cloud))
            )
    except Ros2BridgeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print("[green]bridge stopped[/]")


def _default_config() -> Path:
    from roboos.config import builtin_config

    return builtin_config(DEFAULT_CONFIG)


async def _serve_ros_only(cfg: Any, console: Any) -> None:
    import asyncio
    import contextlib
    import signal

    from roboos.edge.robots import make_robots

    robot = make_robots(cfg.robots, scene=cfg.scene, time_scale=cfg.time_scale)[0]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    robot.connect()
    try:
        _print_bridge(console, robot, None)
        await stop.wait()
    finally:
        robot.disconnect()


def _print_bridge(console: Any, robot: Any, cloud: str | None) -> None:
    from rich.table import Table

    options = robot.options
    table = Table(title=f"ROS 2 bridge: {robot.name}" + (f" -> {cloud}" if cloud else " (no cloud)"))
    table.add_column("what")
    table.add_column("where")
    table.add_row("joints", ", ".join(options.joints))
    table.add_row("joint state in", f"{options.joint_state_topic} ({options.state_qos} QoS)")
    table.add_row("trajectories out", options.trajectory_topic)
    table.add_row(
        "FollowJointTrajectory",
        options.action_name
        if robot.profile().get("follow_joint_trajectory")
        else "not used (control_msgs not installed or use_action=never)",
    )
    if options.skills_as_services:
        prefix = options.service_prefix or f"/{robot.name}/skills"
        table.add_row(
            "skills as services", f"{prefix}/<skill> ({len(robot.skills())} skills), {prefix}_cards"
        )
    for service in options.ros_services:
        table.add_row(f"skill {service.skill}", f"calls {service.service} ({service.type})")
    console.print(table)
    console.print("serving; Ctrl-C to stop")


def _try_node() -> str:
    """Create and destroy a node in a private context: proves the RMW layer loads."""
    try:
        import rclpy
        from rclpy.context import Context

        context = Context()
        rclpy.init(context=context)
        try:
            node = rclpy.create_node("roboos_ros2_info", context=context)
            node.destroy_node()
        finally:
            rclpy.shutdown(context=context)
        return "[green]a node starts[/] (rclpy works without a ROS installation)"
    except Exception as exc:  # noqa: BLE001 - report whatever the middleware says
        return f"[red]cannot start a node[/]: {exc}"


@ros2_app.command("info")
def info() -> None:
    """Show whether rclpy works here, the ROS domain settings and which message/action types are available."""
    import importlib
    import os

    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="ROS 2 environment")
    table.add_column("item")
    table.add_column("status")
    for var in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "RMW_IMPLEMENTATION"):
        table.add_row(var, os.environ.get(var, "(unset)"))
    interfaces = [
        ("rclpy", "rclpy", None, "required"),
        ("sensor_msgs/JointState", "sensor_msgs.msg", "JointState", "required: joint state in"),
        ("sensor_msgs/Image", "sensor_msgs.msg", "Image", "optional: camera observations"),
        (
            "trajectory_msgs/JointTrajectory",
            "trajectory_msgs.msg",
            "JointTrajectory",
            "required: commands out",
        ),
        (
            "diagnostic_msgs/srv/AddDiagnostics",
            "diagnostic_msgs.srv",
            "AddDiagnostics",
            "skills as ROS services",
        ),
        ("std_srvs/srv/Trigger", "std_srvs.srv", "Trigger", "common services to wrap as skills"),
        (
            "control_msgs/action/FollowJointTrajectory",
            "control_msgs.action",
            "FollowJointTrajectory",
            "optional (not on PyPI; source ROS 2)",
        ),
    ]
    ok = True
    for label, module, attr, role in interfaces:
        try:
            mod = importlib.import_module(module)
            if attr:
                getattr(mod, attr)
            status = f"[green]available[/] — {role}"
        except (ImportError, AttributeError) as exc:
            status = f"[red]missing[/] ({exc.__class__.__name__}) — {role}"
            ok = ok and not role.startswith("required")
        table.add_row(label, status)
    if ok:
        table.add_row("node", _try_node())
    console.print(table)
    if not ok:
        console.print("install the bridge's dependencies with: pip install 'roboos[ros]'")
        raise typer.Exit(1)
