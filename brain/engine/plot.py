"""Bar chart of a ``roboos bench brain`` result (decode tok/s per backend and batch size); needs matplotlib."""

from __future__ import annotations

import json
from pathlib import Path

LABELS = {"hf_dynamic": "transformers\ndynamic cache", "hf_static": "transformers\nstatic cache + compile",
          "engine": "RoboOS\nFastGenerator"}


def plot_result(doc: dict, path: str | Path) -> Path:
    """Write a PNG with one panel per batch size; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["results"] if "error" not in r]
    batches = sorted({r["batch"] for r in rows})
    order = [b for b in ("hf_dynamic", "hf_static", "engine") if any(r["backend"] == b for r in rows)]
    fig, axes = plt.subplots(1, len(batches), figsize=(5.2 * len(batches), 4.2), squeeze=False)
    for ax, batch in zip(axes[0], batches):
        values = [next((r["decode_tok_s"] for r in rows if r["backend"] == b and r["batch"] == batch), 0.0)
                  for b in order]
        bars = ax.bar([LABELS.get(b, b) for b in order], values,
                      color=["#9aa5b1" if b != "engine" else "#d9480f" for b in order])
        ax.bar_label(bars, fmt="%.0f")
        ax.set_title(f"batch {batch}")
        ax.set_ylabel("decode tokens/s")
        ax.tick_params(axis="x", labelsize=8)
    env = doc.get("environment", {})
    fig.suptitle(f"RoboBrain2.0-7B decode ({doc.get('prompt_tokens')}-token prompt, {doc.get('new_tokens')} new) "
                 f"on {env.get('gpu', env.get('platform', ''))}", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


if __name__ == "__main__":
    import sys

    src = Path(sys.argv[1])
    print(plot_result(json.loads(src.read_text()), src.with_suffix(".png")))
