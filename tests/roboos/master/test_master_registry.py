"""Registry and world model: registration checks, STATE/effects updates, bad input keeps the master serving."""

from __future__ import annotations

import pytest
from master_rig import MasterRig, run_master, wait_until

from roboos.channel import EdgeChannel, RemoteError
from roboos.master.registry import RegistrationError, RobotRegistry
from roboos.master.world import WorldModel
from roboos.protocol import MsgType
from roboos.protocol.messages import HelloBody
from roboos.sim.kinematic.scene import load_scene
from roboos.skills.effects import Effect


def test_register_validates_hello_and_skill_cards() -> None:
    registry = RobotRegistry(WorldModel())
    with pytest.raises(RegistrationError, match="invalid HELLO"):
        registry.register({"robot": "", "embodiment": "arm"})
    with pytest.raises(RegistrationError, match=r"robot 'r1': skill card 0 \(name\)"):
        registry.register({"robot": "r1", "embodiment": "arm", "skills": [{"description": "no name"}]})
    info = registry.register({"robot": "r1", "embodiment": "arm",
                              "skills": [{"name": "wave", "description": "wave hello"}]})
    assert info.online and info.skill("wave") is not None and registry.names() == ["r1"]
    registry.mark_offline("r1", "heartbeat timeout")
    assert registry.list(online_only=True) == [] and registry.list()[0].online is False


def test_world_model_applies_effects_and_robot_state() -> None:
    world = WorldModel(load_scene())
    before = world.version
    world.apply_effects([Effect(subject="object:apple", attribute="location", value="robot:rover1"),
                         Effect(subject="place:fridge", attribute="open", value=True)])
    world.apply_robot_state("rover1", {"location": "kitchen_counter", "holding": "apple", "joints": [0.1]})
    snap = world.snapshot()
    assert snap["objects"]["apple"]["location"] == "robot:rover1" and snap["places"]["fridge"]["open"] is True
    assert snap["robots"]["rover1"]["location"] == "kitchen_counter" and "joints" not in snap["robots"]["rover1"]
    assert world.version == before + 2
    snap["objects"]["apple"]["location"] = "moon"
    assert world.snapshot()["objects"]["apple"]["location"] == "robot:rover1", "snapshots are copies"


def test_state_snapshot_taken_before_the_latest_result_is_ignored() -> None:
    world = WorldModel(load_scene())
    world.apply_robot_state("rover1", {"holding": "milk"}, taken_ns=100)
    world.note_result("rover1", sent_ns=200)  # the place result: its effects free the gripper
    world.apply_effects([Effect(subject="robot:rover1", attribute="holding", value=None)])
    assert world.apply_robot_state("rover1", {"holding": "milk"}, taken_ns=150) is False  # sent late, stale
    assert world.snapshot()["robots"]["rover1"]["holding"] is None
    assert world.apply_robot_state("rover1", {"holding": "apple"}, taken_ns=250) is True
    assert world.snapshot()["robots"]["rover1"]["holding"] == "apple"
    assert world.apply_robot_state("rover1", {"holding": None}) is True  # no timestamp: always applied


def test_bad_robots_and_bad_messages_do_not_disturb_the_master() -> None:
    async def check(rig: MasterRig) -> None:
        hello = HelloBody(robot="bad1", embodiment="arm", skills=[{"description": "a card without a name"}])
        bad = EdgeChannel(rig.master.channel.endpoint, "bad1", hello)
        try:
            with pytest.raises(RemoteError, match=r"rejected: robot 'bad1': skill card 0 \(name\): Field required"):
                await bad.start(wait_welcome=2)  # refused with the reason, never welcomed
        finally:
            await bad.close()
        assert "bad1" not in rig.master.registry.names()
        # malformed STATE / EVENT bodies from a registered robot are dropped
        channel = rig.agent("arm1").channel
        await channel.send(MsgType.STATE, {"state": "not a dict"})
        await channel.send(MsgType.EVENT, {"kind": ""})
        await channel.send(MsgType.EVENT, {"kind": "watchdog_stop", "data": {"why": "test"}})
        await wait_until(lambda: (rig.master.registry._robots["arm1"].last_event or {}).get("kind") == "watchdog_stop",
                         what="the event")
        record, _ = await rig.run_task("put the toy block on the shelf")
        assert record.status.value == "succeeded"
        robots = {r.name: r for r in rig.master.list_robots()}
        assert robots["arm1"].state["robot"] == "arm1" and robots["arm1"].heartbeat_age_s < 5
        assert robots["arm1"].profile["reach"] == ["workbench", "shelf", "bin"]

    run_master(check)
