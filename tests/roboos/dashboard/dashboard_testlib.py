"""Constants and helpers shared by the dashboard tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WATERING_PKG = '''
from roboos.skills import skill


@skill(embodiments=["mobile_manipulator"])
def water_plant(plant: str, millilitres: int = 200) -> dict:
    """Water a potted plant with the onboard can."""
    return {"watered": plant, "ml": millilitres}
'''


def make_skill_store(tmp: Path) -> Path:
    """A real skill-store file holding one published package (``garden_skills`` with ``water_plant``)."""
    from roboos.skills.store import SkillStore, pack, write_manifest

    pkg = tmp / "garden_pkg"
    pkg.mkdir()
    (pkg / "garden_skills.py").write_text(WATERING_PKG)
    write_manifest(pkg, name="garden_skills", version="1.0.0", description="garden care")
    path = tmp / "skills-store.db"
    store = SkillStore(path)
    try:
        store.publish(pack(pkg))
    finally:
        store.close()
    return path


@dataclass
class Cloud:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
