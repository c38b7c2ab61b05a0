"""``roboos serve brain``: the RoboBrain 2.0 server (OpenAI-compatible API + RoboBrain task endpoints)."""

from __future__ import annotations

from pathlib import Path

import typer

from roboos.cli.groups import serve_app


def register(app: typer.Typer) -> None:  # the command hangs off the shared `serve` group
    serve_app.command("brain")(serve_brain)


def serve_brain(
    model: str | None = typer.Option(None, "--model", "-m", help="Local checkpoint folder or hub id "
                                        "(e.g. BAAI/RoboBrain2.0-7B)."),
    host: str | None = typer.Option(None, "--host", help="Bind address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", "-p", help="HTTP port (default 8000)."),
    backend: str | None = typer.Option(None, "--backend", help="transformers (embedded, default) or vllm."),
    quant: str | None = typer.Option(None, "--quant", help="none or w8a16 (int8 weights, 16-bit activations)."),
    flaggems: bool = typer.Option(False, "--flaggems", help="Use the flag_gems Triton operators (transformers backend)."),
    served_model_name: str | None = typer.Option(None, "--served-model-name", help="Model id clients use."),
    device: str | None = typer.Option(None, "--device", help="cuda, cuda:1, cpu (default: cuda if available)."),
    dtype: str | None = typer.Option(None, "--dtype", help="bfloat16 (GPU default), float16, float32 (CPU default)."),
    max_batch_size: int | None = typer.Option(None, "--max-batch-size", help="Requests decoded together."),
    max_seq_len: int | None = typer.Option(None, "--max-seq-len", help="Context length (prompt + output)."),
    enable_thinking: bool = typer.Option(False, "--enable-thinking", help="Thinking mode on by default (7B/32B)."),
    no_engine: bool = typer.Option(False, "--no-engine", help="Use transformers generate instead of the fast engine."),
    vllm_url: str | None = typer.Option(None, "--vllm-url", help="Attach to a running vLLM/FlagScale endpoint "
                                           "(implies --backend vllm)."),
    tensor_parallel_size: int | None = typer.Option(None, "--tensor-parallel-size", "--tp", help="vLLM GPUs."),
    max_num_seqs: int | None = typer.Option(None, "--max-num-seqs", help="vLLM concurrent sequences."),
    max_model_len: int | None = typer.Option(None, "--max-model-len", help="vLLM context length."),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate: serve HTTPS (with --tls-key)."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key (mode 0600) of --tls-cert."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML with ServerSettings fields."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. --set vllm.dtype=float16."),
) -> None:
    """Serve RoboBrain: /v1/chat/completions (SSE, tools), /v1/models, /health, /v1/robobrain/{task}."""
    from rich.console import Console

    from roboos.brain.server.settings import ServerSettings
    from roboos.config import ConfigError, apply_overrides, read_yaml, validate

    console = Console(stderr=True)
    data = read_yaml(config) if config is not None else {}
    cli = {"model": model, "host": host, "port": port, "backend": backend, "quant": quant,
           "served_model_name": served_model_name, "device": device, "dtype": dtype,
           "max_batch_size": max_batch_size, "max_seq_len": max_seq_len,
           "tls_cert": str(tls_cert) if tls_cert else None, "tls_key": str(tls_key) if tls_key else None}
    data.update({k: v for k, v in cli.items() if v is not None})
    data["flaggems"] = flaggems or data.get("flaggems", False)
    data["enable_thinking"] = enable_thinking or data.get("enable_thinking", False)
    if no_engine:
        data["use_engine"] = False
    vllm = dict(data.get("vllm") or {})
    for key, value in (("attach_url", vllm_url), ("tensor_parallel_size", tensor_parallel_size),
                       ("max_num_seqs", max_num_seqs), ("max_model_len", max_model_len)):
        if value is not None:
            vllm[key] = value
    data["vllm"] = vllm
    if vllm_url:
        data["backend"] = "vllm"
    try:
        apply_overrides(data, overrides)
        settings = validate(ServerSettings, data, str(config) if config else "command line")
    except ConfigError as exc:
        console.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2) from None
    import os

    if settings.api_key is None and os.environ.get("ROBOOS_BRAIN_API_KEY"):
        settings = settings.model_copy(update={"api_key": os.environ["ROBOOS_BRAIN_API_KEY"]})
    if settings.api_key is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[red]refusing to serve on {settings.host} without an API key:[/] set ROBOOS_BRAIN_API_KEY "
                      "(clients send 'Authorization: Bearer <key>'), or bind 127.0.0.1")
        raise typer.Exit(2)
    from roboos.tls import TLSConfigError, check_tls_files

    try:  # before the model loads: a bad certificate should not cost minutes
        tls = check_tls_files(settings.tls_cert, settings.tls_key, owner="brain server")
    except TLSConfigError as exc:
        console.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2) from None
    if tls is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]serving beyond loopback without TLS: the API key travels in clear text "
                      "(--tls-cert/--tls-key, or a TLS reverse proxy)[/]")
    if settings.flaggems and settings.backend == "vllm":
        console.print("[yellow]--flaggems applies to the transformers backend only; vLLM uses its own kernels[/]")

    from roboos.brain.robobrain.loader import ModelLoadError
    from roboos.brain.server.serve import build_app
    from roboos.brain.server.vllm_backend import VllmUnavailableError

    try:
        app = build_app(settings)
    except (ModelLoadError, VllmUnavailableError) as exc:
        console.print(f"[red]cannot start the brain server:[/] {exc}")
        raise typer.Exit(1) from None
    backend_obj = getattr(app.state, "backend", None)
    info = getattr(getattr(backend_obj, "brain", None), "info", {})
    if settings.flaggems and not (info.get("flaggems") or {}).get("enabled"):
        console.print(f"[yellow]FlagGems is OFF:[/] {(info.get('flaggems') or {}).get('reason', 'unavailable')}")
    console.print(f"[green]brain server[/] {settings.model_name()} ({settings.backend}) on "
                  f"{'https' if tls else 'http'}://{settings.host}:{settings.port}/v1")
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", timeout_keep_alive=30,
                **(tls.uvicorn_options() if tls else {}))
