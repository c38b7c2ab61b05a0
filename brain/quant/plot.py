"""Picture of a ``roboos bench w8a16`` result: achieved GB/s per 7B shape at M = 1 (graph-replayed) for W8A16,
bf16 cuBLAS and FlagGems against the copy bandwidth, plus end-to-end decode tokens/s."""

from __future__ import annotations

import json
from pathlib import Path


def plot_results(result_json: str | Path, png: str | Path) -> Path:
    """Render ``result_json`` (a w8a16-<gpu>.json) into ``png``; needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = json.loads(Path(result_json).read_text())
    shapes = list(dict.fromkeys(r["shape"] for r in res["kernels"]))
    impls = [i for i in ("w8a16", "cublas_bf16", "flag_gems_w8a16") if any(r["impl"] == i for r in res["kernels"])]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / len(impls)
    for j, impl in enumerate(impls):
        vals = []
        for shape in shapes:
            row = next((r for r in res["kernels"] if (r["shape"], r["m"], r["impl"]) == (shape, 1, impl)), {})
            vals.append(row.get("graph_gbps", row.get("gbps", 0.0)))
        xs = [i + (j - (len(impls) - 1) / 2) * width for i in range(len(shapes))]
        ax.bar(xs, vals, width, label=impl)
    copy = res.get("copy_gbps", 0.0)
    ax.axhline(copy, color="k", ls="--", lw=1, label=f"copy {copy:.0f} GB/s")
    ax.axhline(0.85 * copy, color="gray", ls=":", lw=1, label="85 % of copy")
    ax.set_xticks(range(len(shapes)), shapes)
    ax.set_ylabel("GB/s at M = 1 (CUDA graph)")
    ax.set_title(f"W8A16 kernels on {res['env']['gpu']}")
    ax.legend(fontsize=8, loc="upper left")
    e2e = res.get("e2e") or {}
    labels, tps = [], []
    for key, label in (("hf_static_bf16", "HF static\neager"), ("hf_static_bf16_compiled", "HF static\ncompiled"),
                       ("fast_bf16", "engine\nbf16"), ("fast_w8a16", "engine\nW8A16")):
        if "tokens_per_s" in e2e.get(key, {}):
            labels.append(label)
            tps.append(e2e[key]["tokens_per_s"])
    ax2.bar(labels, tps, color=["#999"] * (len(tps) - 1) + ["#2a7"])
    ax2.axhline(250, color="k", ls="--", lw=1, label="target 250")
    ax2.set_ylabel("decode tokens/s, batch 1")
    ax2.set_title("RoboBrain 2.0 7B architecture")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png
