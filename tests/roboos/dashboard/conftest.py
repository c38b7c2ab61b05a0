"""Dashboard fixtures: a real ``roboos up`` (cloud + sim edge robots) on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_testlib import MUJOCO_EDGE_CONFIG, Cloud, make_skill_store, roboos_up_process


@pytest.fixture(scope="module")
def roboos_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """``roboos up`` with the default sim robots; the dashboard on a free port; stopped with SIGINT."""
    tmp = tmp_path_factory.mktemp("dashboard-up")
    args = [
        "--time-scale",
        "0.2",
        "--set",
        "dashboard.sample_interval_s=0.25",
        "--set",
        f"dashboard.skill_store={make_skill_store(tmp)}",
        "--edge-set",  # rover1 fails to open containers twice: a task using the fridge is replanned once
        'robots.1.options.inject_failures={"open_container": 2}',
    ]
    with roboos_up_process(tmp, args, robots=2) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def roboos_up_mujoco(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """``roboos up`` with the MuJoCo household robots (two arms' cameras streamed at 2 Hz)."""
    pytest.importorskip("mujoco")
    tmp = tmp_path_factory.mktemp("dashboard-up-mujoco")
    args = ["--edge-config", str(MUJOCO_EDGE_CONFIG), "--set", "scene=scenes/mujoco_household.yaml"]
    with roboos_up_process(tmp, args, robots=2) as cloud:
        yield cloud
