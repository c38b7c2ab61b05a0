"""Task suites: every task's success predicates on hand-set states, sampling, validation errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from roboos.config import ConfigError
from roboos.sim.tasks.build import build_world
from roboos.sim.tasks.predicates import evaluate
from roboos.sim.tasks.spec import available_suites, load_suite, sample_episode

SUITE = load_suite("standard")


def test_standard_suite_has_at_least_12_tasks_over_3_tiers() -> None:
    assert "standard" in available_suites()
    assert len(SUITE.tasks) >= 12
    assert {t.tier for t in SUITE.tasks} == {1, 2, 3}
    assert {t.scene for t in SUITE.tasks if t.tier == 3} == {"household"}


def test_sampling_is_deterministic_and_varies_with_the_seed() -> None:
    task = SUITE.task("put_in_bin")
    assert sample_episode(task, 4) == sample_episode(task, 4)
    instructions = {sample_episode(task, s).instruction for s in range(8)}
    assert len(instructions) > 1
    episode = sample_episode(SUITE.task("sort_plate_bin"), 1)
    names = [o.name for o in episode.objects]
    assert len(names) == len(set(names)) and set(episode.bindings.values()) <= set(names)
    assert episode.instruction.startswith("put the ")


def _satisfy(world, episode, pred) -> None:
    (name, arg), = pred.items()
    args = arg if isinstance(arg, list) else [arg]
    obj = episode.bindings.get(args[0], args[0])
    hand = f"{world.layout.robots[0].name}_hand"
    if name in ("on_surface", "inside"):
        spot = world.free_spot(args[1], clearance=0.06, ignore=[obj])
        world.put_object(obj, spot, world.surface_z(args[1]))
    elif name == "lifted":
        pos = world.object_pos(obj)
        world.put_object(obj, (pos[0], pos[1]), pos[2] + float(args[1]) + 0.02)
    elif name == "held":
        world.attach(hand, obj)


@pytest.mark.parametrize("task", [t.name for t in SUITE.tasks])
def test_success_predicates_on_hand_set_states(task: str) -> None:
    spec = SUITE.task(task)
    episode = sample_episode(spec, 0)
    world, _ = build_world(episode)
    try:
        start_z = {n: float(world.object_pos(n)[2]) for n in world.objects}
        ok, failing = evaluate(spec.success, world, episode.bindings, start_z)
        assert not ok and failing, "the initial state must not already succeed"
        drawer_preds = [p for p in spec.success if next(iter(p)) in ("open", "closed")]
        for pred in drawer_preds:  # drawer states first: objects are then put where the drawer now is
            (name, place), = pred.items()
            world.set_drawer(place, 1.0 if name == "open" else 0.0)
        for pred in sorted((p for p in spec.success if p not in drawer_preds), key=lambda p: "held" in p):
            _satisfy(world, episode, pred)
        ok, failing = evaluate(spec.success, world, episode.bindings, start_z)
        assert ok, failing
    finally:
        world.close()


def test_predicates_explain_failures() -> None:
    spec = SUITE.task("put_in_bin")
    episode = sample_episode(spec, 2)
    world, _ = build_world(episode)
    try:
        ok, failing = evaluate(spec.success, world, episode.bindings)
        target = episode.bindings["target"]
        assert not ok and failing == [f"{target} is at table, wanted in bin"]
        ok, failing = evaluate([{"near": ["target", "target", 0.01]}, {"closed": "drawer"}], world, episode.bindings)
        assert ok
        world.put_object(target, (0.38, -0.36), world.surface_z("bin"))
        assert evaluate(spec.success, world, episode.bindings)[0]
        assert np.isfinite(world.object_pos(target)).all()
    finally:
        world.close()


BAD_SUITES = [
    ("tasks: []\n", "tasks: List should have at least 1 item"),
    ("tasks: [{name: t, tier: 4, scene: tabletop, instruction: x, success: [{held: a}]}]\n",
     "tasks.0.tier: Input should be 1, 2 or 3"),
    ("tasks: [{name: t, tier: 1, scene: kitchen, instruction: x, success: [{open: drawer}]}]\n",
     "tasks.0.scene: unknown scene 'kitchen'"),
    ("tasks: [{name: t, tier: 1, scene: tabletop, instruction: 'pick {b}', objects: {a: {kind: [cube], "
     "color: [red], at: [table]}}, success: [{held: a}]}]\n", "tasks.0.instruction: placeholder 'b' is not an object slot"),
    ("tasks: [{name: t, tier: 1, scene: tabletop, instruction: x, success: [{levitating: a}]}]\n",
     "tasks.0.success.0: a predicate is one of on_surface, inside"),
    ("tasks: [{name: t, tier: 1, scene: tabletop, instruction: x, objects: {a: {kind: [cube], color: [red], "
     "at: [table]}}, success: [{inside: [a, garage]}]}]\n", "tasks.0.success.0.inside: 'garage' is not a place"),
    ("tasks: [{name: t, tier: 1, scene: tabletop, instruction: x, objects: {a: {kind: [teapot], color: [red], "
     "at: [table]}}, success: [{held: a}]}]\n", "tasks.0.objects.a.kind: unknown kind 'teapot'"),
    ("tasks: [{name: t, tier: 1, scene: tabletop, instruction: x, success: [{on: [a, b]}]}]\n",
     "(got True) (YAML reads a bare on/off/yes/no key as a boolean)"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SUITES)
def test_bad_suites_name_file_key_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text("name: custom\n" + text)
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_unknown_suite_lists_the_available_ones() -> None:
    with pytest.raises(KeyError, match="unknown suite 'nope'; suites: standard"):
        load_suite("nope")
