"""``roboos skills`` CLI against a temporary store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from roboos.cli.main import app

SRC = '''
from roboos.robot import Robot
from roboos.skills import skill


@skill(embodiments=["arm"])
def ring_bell(robot: Robot, times: int = 1) -> dict:
    """Ring the desk bell."""
    return {"times": times}
'''


def test_publish_search_show_install_list(tmp_path: Path) -> None:
    pkg = tmp_path / "bells"
    pkg.mkdir()
    (pkg / "bells.py").write_text(SRC)
    store = str(tmp_path / "s.db")
    run = CliRunner().invoke
    res = run(app, ["skills", "publish", str(pkg), "--name", "bells", "--version", "0.1.0", "--embodiment", "arm",
                    "--store", store])
    assert res.exit_code == 0, res.output
    assert "ring_bell" in run(app, ["skills", "search", "ring the bell", "--store", store]).output
    assert "ring_bell(times:int=1)" in run(app, ["skills", "show", "bells", "--store", store]).output
    res = run(app, ["skills", "install", "bells", str(tmp_path / "edge"), "--store", store])
    assert res.exit_code == 0 and (tmp_path / "edge" / "bells" / "bells.py").is_file()
    assert "bells==0.1.0" in run(app, ["skills", "list", "--store", store]).output
    (pkg / "bells.py").write_text(SRC + "\n# changed after the manifest\n")
    res = run(app, ["skills", "publish", str(pkg), "--store", store, "--overwrite"])
    assert res.exit_code == 2 and "checksum_mismatch" in res.output
