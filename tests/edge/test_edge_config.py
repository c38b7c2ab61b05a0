"""Edge config validation and the robot-kind registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from roboos.config import ConfigError
from roboos.edge.config import RobotConfig, load_edge_config
from roboos.edge.robots import (
    SimArmOptions,
    UnknownRobotKind,
    get_robot_kind,
    make_robot,
    make_robots,
    register_robot_kind,
    robot_kinds,
)
from roboos.edge.runner import select_robots
from roboos.robot import RobotError
from roboos.sim.kinematic.robots import SimArm


def test_default_config_has_two_sim_robots_of_different_embodiments() -> None:
    cfg = load_edge_config()
    assert cfg.cloud == "tcp://127.0.0.1:7700"
    robots = make_robots(cfg.robots, scene=cfg.scene, time_scale=0)
    assert [(r.name, r.embodiment) for r in robots] == [("arm1", "arm"), ("rover1", "mobile_manipulator")]
    assert robots[0].world is robots[1].world  # one shared world per process


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("robots: []\n", "robots: List should have at least 1 item"),
        ("robots: [{name: a, kind: sim_rover}]\n",
         "robots.0.kind: unknown robot kind 'sim_rover'; known kinds: "),
        ("robots: [{name: a, kind: sim_arm}, {name: a, kind: sim_arm}]\n", "robots.1.name: duplicate robot name 'a'"),
        ("robots: [{name: a, kind: sim_mobile_manipulator, options: {speed_m_s: 0}}]\n",
         "robots.0.options.speed_m_s: Input should be greater than 0"),
        ("robots: [{name: a, kind: sim_arm, options: {wheels: 4}}]\n",
         "robots.0.options.wheels: Extra inputs are not permitted"),
        ("cloud: http://x\nrobots: [{name: a, kind: sim_arm}]\n", "cloud: String should match pattern"),
        ("state_rate_hz: 0\nrobots: [{name: a, kind: sim_arm}]\n", "state_rate_hz: Input should be greater than 0"),
        ("robots: [{name: '1a', kind: sim_arm}]\n", "robots.0.name: String should match pattern"),
        ("robots:\n  - name: a\n   kind: x\n", "invalid YAML (line 3"),
    ],
)
def test_bad_edge_configs_name_file_key_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_edge_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_overrides_reach_into_the_robot_list() -> None:
    cfg = load_edge_config(None, ["robots.1.options.speed_m_s=2.5", "robots.0.state_rate_hz=20"])
    assert cfg.robots[1].options["speed_m_s"] == 2.5 and cfg.robots[0].state_rate_hz == 20
    with pytest.raises(ConfigError, match="'7' is not an index of a list of 2 items"):
        load_edge_config(None, ["robots.7.name=x"])


def test_select_robots() -> None:
    cfg = load_edge_config()
    assert [r.name for r in select_robots(cfg, ["rover1"]).robots] == ["rover1"]
    with pytest.raises(KeyError, match="no robot 'r2d2'"):
        select_robots(cfg, ["r2d2"])


def test_registry_knows_the_builtin_kinds_and_refuses_duplicates() -> None:
    kinds = robot_kinds()
    assert {"sim_arm", "sim_mobile_manipulator"} <= set(kinds)
    assert kinds["sim_arm"].options is SimArmOptions and kinds["sim_arm"].world == "kinematic"
    with pytest.raises(ValueError, match="already registered"):
        register_robot_kind("sim_arm", lambda cfg, world: None)
    with pytest.raises(UnknownRobotKind, match="unknown robot kind 'nope'"):
        get_robot_kind("nope")


def test_a_new_kind_plugs_in_with_a_lazy_factory() -> None:
    register_robot_kind("test_lazy_arm", "roboos.sim.kinematic.factory:make_sim_arm", embodiment="arm",
                        options=SimArmOptions, world="kinematic",
                        world_factory="roboos.sim.kinematic.factory:make_world", replace=True)
    robot = make_robot(RobotConfig(name="arm1", kind="test_lazy_arm"), time_scale=0)
    assert isinstance(robot, SimArm) and robot.profile()["reach"] == ["workbench", "shelf", "bin"]


def test_robot_placement_from_options_and_scene() -> None:
    robots = make_robots([RobotConfig(name="helper", kind="sim_arm", options={"at": "kitchen_counter"}),
                          RobotConfig(name="scout", kind="sim_mobile_manipulator", embodiment="mobile_manipulator")],
                         time_scale=0)
    for robot in robots:
        robot.connect()
    assert robots[0].world.reachable("helper") == ["kitchen_counter"]
    assert robots[1].get_state().location == "dock"  # no station in the scene: the first station place
    with pytest.raises(RobotError, match="unknown place 'moon'"):
        make_robot(RobotConfig(name="x", kind="sim_arm", options={"reach": ["moon"]}), time_scale=0)
