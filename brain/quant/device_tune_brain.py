"""Run ``roboos tune brain`` on a bare GPU machine (no console script installed): the same function the CLI
calls, with every option given explicitly. Usage (through ``scripts/device_env.sh``)::

    python -m roboos.brain.quant.device_tune_brain OUT_DIR [--requests 8 --prompt-len 128 --new-tokens 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", default="random:7b")
    ap.add_argument("--quant", default="none,w8a16")
    ap.add_argument("--batch-sizes", default="1,2,4,8")
    ap.add_argument("--seq-lens", default="2048,4096")
    ap.add_argument("--graphs", default="on,off")
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args(argv)
    import torch

    from roboos.brain.quant.configs import gpu_slug
    from roboos.cli.cmd_tune import tune_brain

    slug = gpu_slug(torch.cuda.get_device_name(0)) if args.device.startswith("cuda") else "cpu"
    args.out.mkdir(parents=True, exist_ok=True)
    tune_brain(model=args.model, quant=args.quant, batch_sizes=args.batch_sizes, seq_lens=args.seq_lens,
               graphs=args.graphs, requests=args.requests, prompt_len=args.prompt_len, new_tokens=args.new_tokens,
               latency_slo_ms=None, device=args.device, out=args.out / f"brain-{slug}.yaml",
               report=args.out / f"tune-brain-{slug}.json")


if __name__ == "__main__":
    main()
