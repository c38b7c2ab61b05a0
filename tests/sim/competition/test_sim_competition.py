"""The competition harness: determinism, crash isolation, a short suite run with the RoboOS agent (tier 1),
leaderboard outputs, and the ``roboos sim`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from roboos.sim.competition.episode import run_episode
from roboos.sim.competition.leaderboard import load_runs, to_csv, write_leaderboard
from roboos.sim.competition.runner import RunConfig, run_suite
from roboos.sim.tasks.spec import load_suite

SUITE = load_suite("standard")


def test_same_seed_same_episode_and_score(tmp_path: Path) -> None:
    task = SUITE.task("put_on_plate")
    first = run_episode("standard", task, 3, out_dir=tmp_path / "a")
    second = run_episode("standard", task, 3, out_dir=tmp_path / "b")
    assert first.success and second.success
    assert first.final_state == second.final_state
    assert (first.sim_steps, first.instruction) == (second.sim_steps, second.instruction)
    assert first.versions["mujoco"] and first.frames == ["frames/put_on_plate__seed3_start.png",
                                                          "frames/put_on_plate__seed3_end.png"]
    assert (tmp_path / "a" / first.frames[1]).stat().st_size > 1000


@pytest.fixture(scope="module")
def tier1_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tier1")
    summary = run_suite(RunConfig(suite="standard", agent="roboos", seeds=[0], workers=2, tiers=[1],
                                  out_dir=str(out), name="roboos-offline"))
    assert summary["overall"]["episodes"] == 5
    return out


def test_roboos_agent_solves_the_single_step_tier(tier1_run: Path) -> None:
    summary = json.loads((tier1_run / "summary.json").read_text())
    assert summary["overall"]["success_rate"] == 1.0, summary["tasks"]
    assert summary["tiers"] == {"1": summary["overall"]}
    episode = json.loads((tier1_run / "episodes" / "open_drawer__seed0.json").read_text())
    assert episode["success"] and episode["plan_steps"] == 1 and episode["sim_steps"] > 0
    run = json.loads((tier1_run / "run.json").read_text())
    assert run["seeds"] == [0] and run["suite_sha256"] and run["versions"]["roboos"]


@pytest.mark.slow
def test_crashed_and_hung_episodes_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    config = RunConfig(suite="standard", agent="roboos", seeds=[0], workers=2, out_dir=str(tmp_path),
                       tasks=["pick_up", "open_drawer", "close_drawer"], episode_timeout_s=10,
                       fault={"pick_up": "crash", "open_drawer": "hang"})
    summary = run_suite(config)
    tasks = summary["tasks"]
    assert tasks["close_drawer"]["success_rate"] == 1.0
    crash = json.loads((tmp_path / "episodes" / "pick_up__seed0.json").read_text())
    assert crash["crashed"] and not crash["success"] and "SIGSEGV" in crash["reason"]
    hang = json.loads((tmp_path / "episodes" / "open_drawer__seed0.json").read_text())
    assert hang["crashed"] and "overran 10 s" in hang["reason"]
    assert summary["overall"]["crashes"] == 2


def test_leaderboard_ranks_runs_and_writes_md_csv_html(tier1_run: Path, tmp_path: Path) -> None:
    weaker = tmp_path / "weaker"
    weaker.mkdir()
    summary = json.loads((tier1_run / "summary.json").read_text())
    summary.update(name="half-as-good", overall={**summary["overall"], "success_rate": 0.5})
    (weaker / "summary.json").write_text(json.dumps(summary))
    (weaker / "episodes").mkdir()
    runs = load_runs([weaker, tier1_run])
    assert [r["name"] for r in runs] == ["roboos-offline", "half-as-good"]
    assert to_csv(runs).splitlines()[1].startswith("1,roboos-offline,roboos,standard,5,100.0%")
    paths = write_leaderboard([weaker, tier1_run], tmp_path / "board")
    page = paths["html"].read_text()
    assert "roboos-offline" in page and "data:image/png;base64," in page and "open the drawer" in page
    assert paths["markdown"].read_text().startswith("| rank | submission |")


def test_sim_cli_view_and_errors(tmp_path: Path) -> None:
    out = tmp_path / "scene.png"
    proc = subprocess.run([sys.executable, "-m", "roboos.cli.main", "sim", "view", "--task", "standard/relay_to_bin",
                           "--width", "320", "--height", "240", "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 5000 and "put the" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "roboos.cli.main", "sim", "run", "--suite", "nope", "--out",
                          str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown suite 'nope'" in bad.stdout
