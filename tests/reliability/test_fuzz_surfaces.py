"""CI-sized fuzzing of every decoder that takes outside input (the long run is ``roboos bench fuzz``).

Property-based (hypothesis) on the in-process decoders: any input is accepted or refused with the
surface's typed error, never anything else. Mutational (the bench's mutator) on the live servers: after
garbage, the server still answers a valid request, and no input hangs it."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roboos.bench.fuzz import SURFACES, fuzz_surface
from roboos.bench.fuzz_surfaces import (
    PlanJsonSurface,
    PolicyObservationSurface,
    ProtocolSurface,
    RoboBrainParsersSurface,
    SkillPackageSurface,
    YamlConfigSurface,
)

FAST = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
values = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20)
                      | st.binary(max_size=20),
                      lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
                      max_leaves=25)
envelope_like = st.tuples(st.sampled_from([1, 2, 0, "1"]), st.sampled_from(["call", "state", "hello", "x", 3]),
                          values, values, values, values, values, values).map(list)


@pytest.fixture(scope="module")
def protocol():
    return ProtocolSurface()


@pytest.fixture(scope="module")
def policy_obs():
    with PolicyObservationSurface() as surface:
        yield surface


@FAST
@given(data=st.binary(max_size=600))
def test_envelope_decoder_raw_bytes(protocol, data: bytes) -> None:
    protocol.feed(data)


@FAST
@given(head=envelope_like | values, extra=st.integers(0, 3))
def test_envelope_decoder_structured(protocol, head, extra: int) -> None:
    protocol.feed(bytes([extra]) + msgpack.packb(head, use_bin_type=True))


@FAST
@given(obs=st.dictionaries(st.sampled_from(["observation/image", "observation/state", "prompt", "image", "state",
                                            "__ndarray__", "x"]), values, max_size=5) | values)
def test_openpi_observation_decoder(policy_obs, obs) -> None:
    policy_obs.feed(msgpack.packb(obs, use_bin_type=True))


@FAST
@given(text=st.text(max_size=300) | st.sampled_from(RoboBrainParsersSurface().seeds()).map(lambda b: b.decode()))
def test_robobrain_answer_parsers(text: str) -> None:
    RoboBrainParsersSurface().feed(text.encode("utf-8", "surrogatepass"))


@FAST
@given(plan=st.fixed_dictionaries({"steps": st.lists(st.dictionaries(
    st.sampled_from(["id", "robot", "skill", "args", "depends_on", "bogus"]), values, max_size=6), max_size=4)})
    | values)
def test_master_plan_json_parser(plan) -> None:
    import json

    try:
        text = json.dumps(plan)
    except (TypeError, ValueError):
        return
    PlanJsonSurface().feed(text.encode())


@pytest.mark.parametrize("surface_cls,inputs", [(YamlConfigSurface, 300), (SkillPackageSurface, 400),
                                                (ProtocolSurface, 3000), (PlanJsonSurface, 2000),
                                                (RoboBrainParsersSurface, 1000)])
def test_in_process_surfaces_mutational(surface_cls, inputs: int) -> None:
    with surface_cls() as surface:
        r = fuzz_surface(surface, inputs, seed=7)
    assert r["crashes"] == 0, r["findings"][:3]
    assert r["outcomes"].get("accepted", 0) > 0 and len(r["outcomes"]) > 1  # the mutator reaches both sides


@pytest.mark.parametrize("name,inputs", [("cloud_router", 1500), ("edge_dealer", 1500), ("grpc_control", 500),
                                         ("grpc_skillstore", 500)])
def test_live_servers_survive_garbage(name: str, inputs: int) -> None:
    with SURFACES[name]() as surface:
        r = fuzz_surface(surface, inputs, seed=11, alive_every=500)
    assert r["crashes"] == 0, r["findings"][:3]
    assert r["liveness_failures"] == 0 and r["alive_at_end"] and r["hangs"] == 0
    if name.startswith("grpc"):  # undecodable bytes get a typed status (never grpc.aio's UNKNOWN: a finding)
        assert r["outcomes"].get("rejected:INVALID_ARGUMENT", 0) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name,inputs", [("policy_websocket", 40), ("brain_http", 150)])
def test_model_servers_survive_garbage(name: str, inputs: int) -> None:
    with SURFACES[name]() as surface:
        r = fuzz_surface(surface, inputs, seed=5, alive_every=100)
    assert r["crashes"] == 0, r["findings"][:3]
    assert r["liveness_failures"] == 0 and r["alive_at_end"]
