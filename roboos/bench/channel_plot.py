"""Picture of a ``roboos bench channel`` result: p50 / p99 round trip per transport, one panel per exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roboos.bench.channel_report import LABELS


def plot_channel(result: dict[str, Any], path: str | Path) -> Path | None:
    """Write a PNG (``None`` when matplotlib is not installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rt = result.get("round_trip") or {}
    if not rt:
        return None
    fig, axes = plt.subplots(1, len(rt), figsize=(6 * len(rt), 4), squeeze=False)
    for ax, (kind, per_t) in zip(axes[0], rt.items()):
        names = [t for t, s in per_t.items() if s.get("n")]
        p50 = [per_t[t]["p50_us"] for t in names]
        p99 = [per_t[t]["p99_us"] for t in names]
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50", color="#3b7dd8")
        ax.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99", color="#f2a541")
        for x, v in zip(xs, p50):
            ax.text(x - 0.2, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([LABELS.get(t, t).replace(" + ", "\n+ ") for t in names], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("round trip (µs, log scale)")
        ax.set_title({"control": "control: ≤1 KB call → result",
                      "image": "image 224×224×3 + state → 50×32 actions"}.get(kind, kind))
        ax.legend()
    m = result.get("machine", {})
    fig.suptitle(f"roboos bench channel — {m.get('cpu', '')} ({m.get('cores', '?')} cores, load "
                 f"{', '.join(f'{x:.1f}' for x in m.get('load_avg_1_5_15', []))})", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
