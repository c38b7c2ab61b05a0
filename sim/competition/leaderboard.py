"""Rank competition runs: Markdown, CSV and a static HTML page with key frames.

Each run directory holds ``summary.json`` (and ``episodes/*.json``, ``frames/``) as written by
:func:`roboos.sim.competition.runner.run_suite`. Runs are ranked by success rate, then by planner tokens
(fewer is better), then by mean simulated time per episode.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any


def load_runs(run_dirs: list[Path]) -> list[dict[str, Any]]:
    runs = []
    for d in run_dirs:
        summary_path = d / "summary.json"
        if not summary_path.exists():
            raise FileNotFoundError(f"{d}: no summary.json (is this a 'roboos sim run' output directory?)")
        summary = json.loads(summary_path.read_text())
        summary["_dir"] = str(d)
        runs.append(summary)
    return rank(runs)


def rank(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(r: dict[str, Any]) -> tuple[float, int, float, str]:
        o = r["overall"]
        return (-o["success_rate"], o["tokens"], o["mean_sim_time_s"], r["name"])

    ranked = sorted(runs, key=key)
    for i, run in enumerate(ranked, 1):
        run["rank"] = i
    return ranked


def _tiers(runs: list[dict[str, Any]]) -> list[str]:
    return sorted({t for r in runs for t in r["tiers"]})


def rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    tiers = _tiers(runs)
    header = ["rank", "submission", "agent", "suite", "episodes", "success", *[f"tier {t}" for t in tiers],
              "crashes", "tokens", "sim s / episode", "episodes / min"]
    out = []
    for r in runs:
        o = r["overall"]
        out.append([str(r["rank"]), r["name"], r["agent"], r["suite"], str(o["episodes"]),
                    f"{o['success_rate']:.1%}",
                    *[f"{r['tiers'][t]['success_rate']:.1%}" if t in r["tiers"] else "-" for t in tiers],
                    str(o["crashes"]), str(o["tokens"]), f"{o['mean_sim_time_s']:.1f}", f"{r['episodes_per_min']:.1f}"])
    return header, out


def to_markdown(runs: list[dict[str, Any]]) -> str:
    header, body = rows(runs)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def to_csv(runs: list[dict[str, Any]]) -> str:
    header, body = rows(runs)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(body)
    return buf.getvalue()


def _thumbnail(path: Path, width: int = 200) -> str | None:
    if not path.exists():
        return None
    import imageio.v3 as iio
    import numpy as np

    img = iio.imread(path)
    step = max(1, -(-img.shape[1] // width))  # ceil: at most ``width`` pixels wide
    small = np.ascontiguousarray(img[::step, ::step, :3])
    return "data:image/png;base64," + base64.b64encode(iio.imwrite("<bytes>", small, extension=".png")).decode()


def to_html(runs: list[dict[str, Any]], title: str = "RoboOS sim leaderboard") -> str:
    """A self-contained page: the ranking table, then per submission the tasks with their end frames."""
    header, body = rows(runs)
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    table += "</table>"
    sections = []
    for r in runs:
        cards = []
        run_dir = Path(r["_dir"])
        episodes = sorted((run_dir / "episodes").glob("*.json"))
        seen: set[str] = set()
        for ep_path in episodes:
            ep = json.loads(ep_path.read_text())
            if ep["task"] in seen:
                continue
            seen.add(ep["task"])
            images = "".join(f'<img src="{src}" alt="{html.escape(f)}">' for f in ep.get("frames", [])
                              if (src := _thumbnail(run_dir / f)))
            stats = r["tasks"].get(ep["task"], {})
            badge = "ok" if ep["success"] else "fail"
            cards.append(
                f'<div class="card"><div class="{badge}">{html.escape(ep["task"])} — tier {ep["tier"]} — '
                f'{stats.get("success_rate", 0):.0%} over {stats.get("episodes", 0)} episode(s)</div>'
                f'<div class="instr">“{html.escape(ep["instruction"])}” (seed {ep["seed"]})</div>{images}'
                f'<div class="reason">{html.escape(ep["reason"])}</div></div>')
        sections.append(f'<h2>#{r["rank"]} {html.escape(r["name"])} ({html.escape(r["agent"])})</h2>'
                        f'<div class="cards">{"".join(cards)}</div>')
    style = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}"
             ".cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;padding:6px;width:420px}"
             ".card img{width:200px;margin:2px}.ok{color:#186a1f;font-weight:bold}.fail{color:#a31515;"
             "font-weight:bold}.instr{font-style:italic;margin:4px 0}.reason{font-size:small;color:#555}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{table}{''.join(sections)}"
            "</body></html>")


def write_leaderboard(run_dirs: list[Path], out_dir: Path) -> dict[str, Path]:
    """Write leaderboard.md / .csv / .html into ``out_dir``; returns their paths."""
    runs = load_runs(run_dirs)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "leaderboard.md", "csv": out_dir / "leaderboard.csv",
             "html": out_dir / "leaderboard.html"}
    paths["markdown"].write_text(to_markdown(runs))
    paths["csv"].write_text(to_csv(runs))
    paths["html"].write_text(to_html(runs))
    return paths
