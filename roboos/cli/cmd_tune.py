"""``roboos tune kernels`` (PreTune: offline W8A16 kernel table) and ``roboos tune brain`` (serving parameters)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from roboos.cli.groups import tune_app


def register(app: typer.Typer) -> None:
    tune_app.command("kernels")(tune_kernels)
    tune_app.command("brain")(tune_brain)


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"{what} must be positive integers, got {text!r}")
    return values


def _model_config(model: str):
    """Config of ``random:7b`` / ``random:tiny`` (built-in architectures) or of a local checkpoint folder."""
    if model.startswith("random:"):
        from roboos.brain.quant.archs import robobrain_config
        try:
            return robobrain_config(model.split(":", 1)[1])
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    if not Path(model).is_dir():
        raise typer.BadParameter(f"{model!r} is neither random:<7b|tiny> nor a local checkpoint folder")
    from transformers import AutoConfig
    return AutoConfig.from_pretrained(model)


def tune_kernels(
    model: str = typer.Option("random:7b", "--model", "-m", help="Checkpoint folder, or random:7b / random:tiny."),
    buckets: str = typer.Option("1,2,4,8,16,32,64,128,256,512", "--buckets", help="M buckets to tune."),
    group_size: int = typer.Option(0, "--group-size", help="0 (per-channel scales) or e.g. 128."),
    dtype: str = typer.Option("bfloat16", "--dtype", help="Activation dtype: bfloat16 or float16."),
    flag_gems: bool = typer.Option(True, "--flag-gems/--no-flag-gems", help="Try FlagGems' kernel as a candidate."),
    out: Optional[Path] = typer.Option(None, "--out", help="Table file (default configs/kernels/<gpu>.json; "
                                       "entries of other shapes in it are kept)."),
) -> None:
    """Tune the W8A16 kernels offline for every linear shape of MODEL and write the PreTune table."""
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console()
    if not torch.cuda.is_available():
        console.print("[red]roboos tune kernels needs a CUDA GPU[/] (tables are per GPU)")
        raise typer.Exit(1)
    if dtype not in ("bfloat16", "float16"):
        raise typer.BadParameter("dtype must be bfloat16 or float16")
    from roboos.brain.quant.configs import ConfigTableError, load_table, table_path
    from roboos.brain.quant.pretune import build_table, model_linear_shapes

    shapes = model_linear_shapes(_model_config(model))
    bucket_list = _ints(buckets, "buckets")
    path = out or table_path(torch.cuda.get_device_name(0))
    existing = None
    if path.is_file():
        try:
            existing = load_table(path)
        except ConfigTableError as exc:
            console.print(f"[yellow]existing table ignored:[/] {exc}")
    with Progress(TextColumn("[bold]PreTune[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("compiling", total=len(shapes) * len(bucket_list))

        def step(msg: str) -> None:
            bar.update(task, advance=1, description=msg.split(":")[0])
            console.log(msg)

        table = build_table(shapes, getattr(torch, dtype), group_size, bucket_list, flag_gems, progress=step,
                            table=existing)
    console.print(f"table written to {table.save(path)}")


def tune_brain(
    model: str = typer.Option("random:7b", "--model", "-m", help="Checkpoint folder, or random:7b / random:tiny."),
    quant: str = typer.Option("none,w8a16", "--quant", help="Weight formats to try, in order."),
    batch_sizes: str = typer.Option("1,2,4,8", "--batch-sizes", help="max_batch_size candidates."),
    seq_lens: str = typer.Option("2048,4096", "--seq-lens", help="max_seq_len (KV cache) candidates."),
    graphs: str = typer.Option("on,off", "--graphs", help="CUDA graphs: on, off or both."),
    requests: int = typer.Option(16, "--requests", help="Synthetic load: requests arriving together."),
    prompt_len: int = typer.Option(256, "--prompt-len", help="Synthetic load: prompt tokens."),
    new_tokens: int = typer.Option(128, "--new-tokens", help="Synthetic load: generated tokens per request."),
    latency_slo_ms: Optional[float] = typer.Option(None, "--latency-slo-ms", help="p95 latency bound."),
    device: str = typer.Option("cuda", "--device", help="cuda, or cpu (smoke run)."),
    out: Optional[Path] = typer.Option(None, "--out", help="YAML (default configs/tuned/brain-<gpu>.yaml)."),
    report: Optional[Path] = typer.Option(None, "--report", help="JSON (default benchmarks/results/"
                                          "tune-brain-<gpu>.json)."),
) -> None:
    """Search serving parameters against a synthetic load; write the best as a `roboos serve brain --config` YAML."""
    import json
    import time

    import torch
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from roboos.brain.quant.configs import gpu_slug
    from roboos.brain.quant.serve_tune import LoadSpec, search, tuned_settings, write_yaml

    console = Console()
    if device.startswith("cuda") and not torch.cuda.is_available():
        console.print("[red]no CUDA GPU[/] (use --device cpu --model random:tiny for a smoke run)")
        raise typer.Exit(1)
    quants = [q.strip() for q in quant.split(",") if q.strip()]
    if not quants or any(q not in ("none", "w8a16") for q in quants):
        raise typer.BadParameter("--quant takes none and/or w8a16")
    graph_opts = {"on": True, "off": False}
    try:
        graph_list = [graph_opts[g.strip()] for g in graphs.split(",") if g.strip()]
    except KeyError:
        raise typer.BadParameter("--graphs takes on and/or off") from None
    if not device.startswith("cuda"):
        graph_list = [False]
    load = LoadSpec(requests, prompt_len, new_tokens)
    if min(requests, prompt_len, new_tokens) < 1:
        raise typer.BadParameter("--requests, --prompt-len and --new-tokens must be positive")
    net = _load_model(model, device, console)
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    with Progress(SpinnerColumn(), TextColumn("[bold]tune brain[/] {task.description}"), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("starting")

        def step(msg: str) -> None:
            bar.update(task, description=msg)
            console.log(msg)

        results, best = search(net, load, quants, _ints(batch_sizes, "batch sizes"), _ints(seq_lens, "seq lens"),
                               graph_list, latency_slo_ms=latency_slo_ms, progress=step)
    view = Table(title=f"serving candidates on {gpu} ({requests} x {prompt_len}+{new_tokens} tokens)")
    for col in ("quant", "batch", "graphs", "kv len", "tok/s", "p50 ms", "p95 ms", "note"):
        view.add_column(col, justify="left" if col in ("quant", "note") else "right")
    for r in results:
        c = r.candidate
        note = r.error or ("best" if r is best else "dominated" if r.dominated else "; ".join(r.notes))
        view.add_row(c.quant, str(c.max_batch_size), "on" if c.use_cuda_graph else "off", str(c.max_seq_len),
                     f"{r.tokens_per_s:.1f}", f"{r.latency_p50_ms:.0f}", f"{r.latency_p95_ms:.0f}", note[:50])
    console.print(view)
    source = model if Path(model).is_dir() else None
    settings = tuned_settings(best, source, load)
    header = {"gpu": gpu, "model": model, "load": f"{requests} requests x {prompt_len} prompt + {new_tokens} new",
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    yaml_path = out or Path("configs/tuned") / f"brain-{gpu_slug(gpu)}.yaml"
    write_yaml(yaml_path, settings, results, header)
    report_path = report or Path("benchmarks/results") / f"tune-brain-{gpu_slug(gpu)}.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps({**header, "best": best.to_dict(), "settings": settings,
                                       "candidates": [r.to_dict() for r in results]}, indent=1) + "\n")
    console.print(f"tuned config: {yaml_path}  (roboos serve brain --config {yaml_path})\nreport: {report_path}")


def _load_model(model: str, device: str, console):
    import torch

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if model.startswith("random:"):
        from roboos.brain.quant.archs import build_model
        console.log(f"building {model} with random weights on {device}")
        try:
            return build_model(model.split(":", 1)[1], dtype, device)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    config = _model_config(model)
    if getattr(config, "quantization_config", None):
        from roboos.brain.quant.checkpoint import load_quantized
        return load_quantized(model, device=device, dtype=dtype)
    from transformers import AutoModelForImageTextToText
    return AutoModelForImageTextToText.from_pretrained(model, dtype=dtype).to(device).eval()
