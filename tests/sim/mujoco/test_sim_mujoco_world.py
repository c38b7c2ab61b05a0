"""MuJoCo scenes and world: model building, symbolic read-back on hand-set states, rendering, scene files."""

from __future__ import annotations

import numpy as np
import pytest

from roboos.config import builtin_config
from roboos.sim.kinematic.scene import load_scene
from roboos.sim.mujoco.scene_io import scene_of, world_from_scene
from roboos.sim.mujoco.scenes import LAYOUTS, ObjectSpec, build_xml, get_layout
from roboos.sim.mujoco.world import MujocoWorld


@pytest.mark.parametrize("scene", sorted(LAYOUTS))
def test_scenes_compile_with_robots_and_objects(scene: str) -> None:
    world = MujocoWorld(scene, [ObjectSpec("red_cube", "cube", "red")])
    try:
        arms = [r for r in world.layout.robots]
        assert world.model.nu == 7 * len(arms) + 3 * sum(r.kind == "mobile" for r in arms)
        assert "grasp__arm1_hand__red_cube" in build_xml(get_layout(scene), [ObjectSpec("red_cube", "cube", "red")])
    finally:
        world.close()


def test_headless_rendering_gives_real_images(tabletop) -> None:
    world, _ = tabletop
    image = world.render(None, 224, 224)
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8
    assert image.std() > 10  # not a blank frame
    wrist = world.render("arm1_wrist_cam", 320, 240)
    assert wrist.shape == (240, 320, 3)
    with pytest.raises(ValueError):
        world.render("no_such_camera", 64, 64)


def test_symbolic_locations_from_hand_set_states(tabletop) -> None:
    world, _ = tabletop
    assert world.location_of("green_block") == "plate"
    world.put_object("red_cube", (0.38, -0.36), world.surface_z("bin"))
    world.put_object("blue_can", (2.0, 2.0), 0.0)
    assert world.location_of("red_cube") == "bin"
    assert world.location_of("blue_can") == "floor"
    world.put_object("blue_can", (0.7, -0.5), world.surface_z("table"))  # table, outside the spawn region
    assert world.location_of("blue_can") == "table"
    assert world.is_closed("drawer") and not world.is_open("drawer")
    world.set_drawer("drawer", 1.0)
    assert world.is_open("drawer") and world.drawer_fraction("drawer") == pytest.approx(1.0)
    cx, cy, _, _ = world.region("drawer")
    world.put_object("red_cube", (cx, cy), world.surface_z("drawer"))
    assert world.location_of("red_cube") == "drawer"


def test_grasp_weld_carries_the_object(tabletop) -> None:
    world, arm = tabletop
    before = world.object_pos("red_cube")
    world.attach("arm1_hand", "red_cube")
    assert world.holder_of("red_cube") == "arm1" and world.location_of("red_cube") == "robot:arm1"
    with world.lock:
        world.data.ctrl[arm.kin.actuators[0]] += 0.5  # swing the base joint
    world.settle(1.0)
    moved = world.object_pos("red_cube")
    assert np.linalg.norm(moved[:2] - before[:2]) > 0.05
    world.detach("arm1_hand")
    assert world.holder_of("red_cube") is None


def test_free_spot_keeps_clear_of_objects(tabletop) -> None:
    world, _ = tabletop
    spot = world.free_spot("table", rng=np.random.default_rng(0), clearance=0.07)
    assert spot is not None
    for name in world.objects:
        assert np.hypot(*(np.array(spot) - world.object_pos(name)[:2])) >= 0.07


def test_scene_files_feed_both_planner_and_physics() -> None:
    scene = load_scene(builtin_config("scenes/mujoco_household.yaml"))
    world = world_from_scene(scene, seed=0)
    try:
        assert {n: world.location_of(n) for n in world.objects} == {o.name: o.location for o in scene.objects}
        exported = scene_of(world, scene.robots)
        assert exported.name == "mujoco_household"
        assert {o.name: o.location for o in exported.objects} == {o.name: o.location for o in scene.objects}
        assert exported.place("drawer").openable and not exported.place("drawer").open
    finally:
        world.close()


def test_unknown_object_kind_in_a_scene_is_refused() -> None:
    scene = load_scene(builtin_config("scenes/mujoco_tabletop.yaml"), ["objects.0.kind=teapot"])
    with pytest.raises(ValueError, match="kind 'teapot' has no MuJoCo shape"):
        world_from_scene(scene)
    with pytest.raises(ValueError, match="is not a MuJoCo scene"):
        world_from_scene(load_scene())
