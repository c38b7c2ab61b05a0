"""The edge agent against a real CloudChannel over TCP loopback."""

from __future__ import annotations

import asyncio

from edge_rig import Rig, all_connected, run_rig, start_cloud, wait_until

from roboos.edge.config import load_edge_config
from roboos.edge.runner import build_agents, run_agents
from roboos.protocol import MsgType
from roboos.protocol.messages import HelloBody, ResultBody
from roboos.robot import RobotState
from roboos.skills import SkillArgumentError
from roboos.skills.card import SkillCard
from roboos.skills.effects import effects_of


def test_hello_registers_profile_and_skill_cards() -> None:
    async def check(rig: Rig) -> None:
        links = rig.cloud.links()
        arm = HelloBody.model_validate(links["arm1"].hello)
        rover = HelloBody.model_validate(links["rover1"].hello)
        assert arm.embodiment == "arm" and rover.embodiment == "mobile_manipulator"
        assert arm.profile["reach"] == ["workbench", "shelf", "bin"]
        assert arm.profile["state_rate_hz"] == 50
        cards = {c["name"]: SkillCard.model_validate(c) for c in rover.skills}
        assert "navigate" in cards and "navigate" not in {c["name"] for c in arm.skills}
        assert "kitchen_counter" in cards["navigate"].parameters["properties"]["target"]["enum"]
        assert arm.session and arm.agent_version

    run_rig(check)


def test_calls_run_skills_and_report_effects_and_state() -> None:
    async def check(rig: Rig) -> None:
        body = await rig.call("rover1", "navigate", target="kitchen_counter")
        result = ResultBody.model_validate(body)
        assert result.ok and result.value["arrived"] == "kitchen_counter"
        picked = await rig.call("rover1", "pick", object="red_cup")
        assert ("object:red_cup", "location", "robot:rover1") in [
            (e.subject, e.attribute, e.value) for e in effects_of(picked["value"])]
        await wait_until(lambda: any(s["holding"] == "red_cup" for s in rig.states("rover1")), what="state")
        state = RobotState.model_validate(rig.states("rover1")[-1])
        assert state.location == "kitchen_counter" and state.pose.x == 4.0
        await wait_until(lambda: bool(rig.states("arm1")), what="arm1 state (every robot streams state)")
        assert rig.agent("rover1").calls_done == 2

    run_rig(check)


def test_bad_calls_become_failed_results_and_the_agent_keeps_serving() -> None:
    async def check(rig: Rig) -> None:
        unknown = await rig.call("arm1", "fly")
        assert unknown["ok"] is False and unknown["error"]["code"] == "unknown_skill"
        bad_args = await rig.call("arm1", "pick", object="unicorn")
        assert bad_args["error"]["code"] == SkillArgumentError.code
        assert bad_args["error"]["details"]["errors"][0]["arg"] == "object"
        no_skill = (await rig.cloud.call("arm1", {"args": {}})).body
        assert no_skill["error"]["code"] == "bad_body" and "Field required" in no_skill["error"]["message"]
        refused = await rig.call("arm1", "pick", object="apple")
        assert refused["error"]["code"] == "skill_failed" and "out of reach" in refused["error"]["message"]
        assert (await rig.call("arm1", "pick", object="toy_block"))["ok"]
        assert rig.agent("arm1").calls_failed == 4

    run_rig(check)


def test_injected_failure_from_config_fails_once() -> None:
    async def check(rig: Rig) -> None:
        first = await rig.call("arm1", "pick", object="toy_block")
        assert first["ok"] is False and "injected failure of 'pick'" in first["error"]["message"]
        assert (await rig.call("arm1", "pick", object="toy_block"))["ok"]

    run_rig(check, sets=("robots.0.options.inject_failures={pick: 1}",))


def test_cancel_and_call_timeout() -> None:
    async def check(rig: Rig) -> None:
        call = asyncio.create_task(rig.cloud.call(
            "rover1", {"skill": "navigate", "args": {"target": "coffee_table"}}, msg_id="nav-1", timeout=10))
        await wait_until(lambda: "nav-1" in rig.agent("rover1").running, what="call start")
        ack = await rig.cloud.call("rover1", {"call_id": "nav-1", "reason": "test"}, type=MsgType.CANCEL)
        assert ack.body["value"] == {"call_id": "nav-1", "cancelled": True}
        result = (await call).body
        assert result["ok"] is False and result["error"]["code"] == "cancelled"
        timed = (await rig.cloud.call("rover1", {"skill": "navigate", "args": {"target": "coffee_table"},
                                                 "timeout_s": 0.1})).body
        assert timed["error"]["code"] == "timeout"
        await wait_until(lambda: not rig.agent("rover1").running, what="idle")
        unknown = await rig.cloud.call("rover1", {"call_id": "nope"}, type=MsgType.CANCEL)
        assert unknown.body["value"]["cancelled"] is False

    run_rig(check, sets=("time_scale=1.0",))


def test_retransmitted_call_id_does_not_move_the_robot_twice() -> None:
    async def check(rig: Rig) -> None:
        body = {"skill": "pick", "args": {"object": "toy_block"}}
        first = (await rig.cloud.call("arm1", body, msg_id="pick-1")).body
        again = (await rig.cloud.call("arm1", body, msg_id="pick-1")).body
        assert first["ok"] and again == first  # a second pick would fail: the gripper is full
        assert rig.agent("arm1").calls_done == 1

    run_rig(check)


def test_hooks_guard_calls_and_see_results_and_link_changes() -> None:
    seen: dict[str, list] = {"results": [], "links": []}

    def prepare(agents) -> None:
        arm = next(a for a in agents if a.name == "arm1")

        def guard(call, spec) -> None:
            if spec.name == "open_gripper":
                raise SkillArgumentError("open_gripper is disabled by a safety limit", skill=spec.name)

        async def on_result(call, result) -> None:
            seen["results"].append((call.skill, result.ok))

        arm.add_call_guard(guard)
        arm.add_result_listener(on_result)
        arm.add_link_listener(lambda up: seen["links"].append(up))

    async def check(rig: Rig) -> None:
        refused = await rig.call("arm1", "open_gripper")
        assert refused["ok"] is False and "disabled by a safety limit" in refused["error"]["message"]
        assert (await rig.call("arm1", "scan"))["ok"]
        assert seen["results"] == [("open_gripper", False), ("scan", True)]
        assert seen["links"] == [True]

    run_rig(check, prepare=prepare)
    assert seen["links"] == [True, False]


def test_agent_waits_for_the_cloud_and_reregisters_after_a_cloud_restart(tcp_endpoint: str) -> None:
    async def main() -> None:
        cfg = load_edge_config(None, [f"cloud={tcp_endpoint}", "time_scale=0", "heartbeat.interval_s=0.1",
                                      "heartbeat.cloud_timeout_s=0.5"])
        agents = build_agents(cfg)
        runner = asyncio.create_task(run_agents(agents, handle_signals=False))
        try:
            await asyncio.sleep(0.3)  # no cloud yet: the agents keep trying
            for round_ in range(2):
                cloud = start_cloud(tcp_endpoint)
                await cloud.start()
                await wait_until(lambda: all_connected(cloud, ["arm1", "rover1"]), what=f"registration {round_}")
                reply = await cloud.call("arm1", {"skill": "scan"})
                assert reply.body["ok"]
                await cloud.close()
                await wait_until(lambda: not any(a.connected for a in agents), what="link down")
        finally:
            for agent in agents:
                await agent.stop()
            await asyncio.wait_for(runner, 10)

    asyncio.run(asyncio.wait_for(main(), 60))
