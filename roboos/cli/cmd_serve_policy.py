"""``roboos serve policy``: serve π0 or RoboBrain-X0 over the openpi websocket and native ZeroMQ."""

from __future__ import annotations

from typing import Optional

import typer

from roboos.cli.groups import serve_app


def register(app: typer.Typer) -> None:
    """Commands are attached to the shared ``serve`` group at import time."""


def load_policy(
    policy: str,
    checkpoint: Optional[str],
    preset: Optional[str],
    tokenizer: Optional[str],
    device: str,
    dtype: str,
    mode: str,
    compile: bool,
    quant: str,
    max_batch: int,
    attention: str | None = None,
):
    """Build the policy object (heavy imports happen here)."""
    import torch

    dev = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if policy == "pi0":
        from roboos.brain.policies.pi0.policy import Pi0Policy

        if checkpoint is None and preset is None:
            raise typer.BadParameter(
                "give --checkpoint, or --preset for random weights", param_hint="--checkpoint"
            )
        return Pi0Policy.from_checkpoint(
            checkpoint,
            preset_name=preset,
            device=dev,
            dtype=dtype,
            tokenizer=tokenizer,
            mode=mode,
            compile=compile,
            quant=None if quant == "none" else quant,
            max_batch=max_batch,
            attention=attention,
        )
    if policy == "x0":
        from roboos.brain.policies.x0.policy import X0Policy

        if checkpoint is None:
            raise typer.BadParameter("X0 needs --checkpoint (a folder)", param_hint="--checkpoint")
        return X0Policy.from_checkpoint(checkpoint, device=dev, dtype=dtype, max_batch=max_batch)
    raise typer.BadParameter(f"unknown policy {policy!r}: use pi0 or x0", param_hint="--policy")


@serve_app.command("policy")
def serve_policy(
    policy: str = typer.Option(..., "--policy", help="pi0 or x0."),
    checkpoint: Optional[str] = typer.Option(None, help="Checkpoint folder or .safetensors file."),
    preset: Optional[str] = typer.Option(None, help="π0 only: 'pi0' or 'tiny' config with random weights."),
    tokenizer: Optional[str] = typer.Option(
        None, help="π0 prompt tokenizer folder, or 'bytes' (random weights)."
    ),
    host: str = typer.Option("127.0.0.1", help="Websocket host (openpi protocol)."),
    port: int = typer.Option(8000, help="Websocket port; 0 picks a free one; -1 disables it."),
    zmq: str = typer.Option("tcp://127.0.0.1:7710", help="ZeroMQ bind address, or 'none'."),
    device: str = typer.Option("auto", help="cuda, cpu or auto."),
    dtype: str = typer.Option("auto", help="bf16, fp16, fp32 or auto (bf16 on GPU)."),
    mode: str = typer.Option("auto", help="π0 sampler: eager, graph (CUDA graphs) or auto."),
    compile: bool = typer.Option(
        False, help="π0: torch.compile the passes before graph capture (slow start)."
    ),
    quant: str = typer.Option("none", help="none or w8a16 (int8 weights through roboos.brain.quant)."),
    max_batch: int = typer.Option(8, help="Largest batch of concurrent requests."),
    attention: str | None = typer.Option(
        None, help="π0 attention: fused (the fused Triton expert; default when compiled on CUDA, for bf16 and "
                   "per-channel W8A16), math (matmul + softmax; the fallback), sdpa, or triton (one attention "
                   "kernel; slower on an H100, see docs/vla.md)."
    ),
    api_key: Optional[str] = typer.Option(
        None, envvar="ROBOOS_POLICY_API_KEY", help="Require openpi's 'Authorization: Api-Key …' header."
    ),
    tls_cert: Optional[str] = typer.Option(None, "--tls-cert", help="PEM certificate: serve wss:// (with --tls-key)."),
    tls_key: Optional[str] = typer.Option(None, "--tls-key", help="PEM private key (mode 0600) of --tls-cert."),
) -> None:
    """Serve a VLA policy; `openpi-client` connects to ws://HOST:PORT unchanged."""
    import asyncio

    from rich.console import Console

    from roboos.brain.policy_server.server import PolicyServer

    console = Console()
    from roboos.channel.cloud import is_loopback

    if port >= 0 and api_key is None and host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[red]refusing to serve the websocket on {host} without an API key:[/] set "
                      "ROBOOS_POLICY_API_KEY (or --api-key), or bind 127.0.0.1")
        raise typer.Exit(2)
    from roboos.tls import TLSConfigError, check_tls_files

    try:
        tls = check_tls_files(tls_cert, tls_key, owner="policy server")
    except TLSConfigError as exc:
        console.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2) from None
    if zmq != "none" and not is_loopback(zmq):
        console.print(f"[red]refusing to bind the policy's ZeroMQ endpoint to {zmq}:[/] it has no CURVE "
                      "authentication; keep it on loopback (or use the websocket with an API key)")
        raise typer.Exit(2)
    with console.status(f"loading {policy}…"):
        loaded = load_policy(
            policy, checkpoint, preset, tokenizer, device, dtype, mode, compile, quant, max_batch, attention
        )
    meta = loaded.metadata()
    console.print(
        f"[bold]{policy}[/] ready: cameras {meta.get('cameras')}, chunk {meta.get('action_horizon')}×"
        f"{meta.get('action_dim')} on {meta.get('device')}"
    )
    server = PolicyServer(
        loaded,
        host=host,
        port=None if port < 0 else port,
        zmq_bind=None if zmq == "none" else zmq,
        max_batch=max_batch,
        api_key=api_key,
        tls=tls,
    )

    async def main() -> None:
        addrs = await server.start()
        health = addrs.websocket.replace("ws", "http", 1) + "/healthz" if addrs.websocket else "-"
        console.print(f"websocket (openpi): {addrs.websocket or 'off'}  health: {health}")
        console.print(f"zeromq (roboos):    {addrs.zmq or 'off'}   — Ctrl-C to stop")
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print(f"stopped; served {server.stats()}")
