"""Export the models that run on the edge to ONNX at the profile's precision, verified with onnxruntime.

``pi0-expert-step``: the π0 action-expert step (``roboos.brain.policies.onnx_export``), from a
checkpoint folder or — without one — from the ``tiny`` preset with random weights (offline smoke
deployments; say so in the report). The fp32 export is compared with PyTorch on fresh inputs; fp16
(onnxruntime's float16 converter, I/O kept float32) and int8 (dynamic quantization of MatMul/Gemm
weights) are compared with the same PyTorch outputs under a per-precision tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# relative L2 error allowed against the PyTorch fp32 output
TOLERANCE = {"fp32": 1e-4, "bf16": 5e-2, "fp16": 5e-2, "int8": 0.25}
Progress = Callable[[str], None]


class ModelExportError(RuntimeError):
    """A model could not be exported or failed verification."""


def available_models() -> dict[str, Callable[..., dict[str, Any]]]:
    return {"pi0-expert-step": export_pi0_expert_step}


def export_models(names: list[str], out_dir: Path, precision: str, providers: list[str],
                  checkpoint: str | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Export and verify each model; returns one report per model (written next to it as JSON)."""
    registry = available_models()
    reports = []
    for name in names:
        if name not in registry:
            raise ModelExportError(f"unknown edge model '{name}'; known: {', '.join(sorted(registry))}")
        reports.append(registry[name](out_dir, precision, providers, checkpoint=checkpoint, progress=progress))
    return reports


def export_pi0_expert_step(out_dir: Path, precision: str, providers: list[str], *, checkpoint: str | None = None,
                           progress: Progress | None = None) -> dict[str, Any]:
    import torch

    from roboos.brain.policies.onnx_export import INPUT_NAMES, ExpertStep, example_inputs, export_expert_step
    from roboos.brain.policies.pi0.config import preset
    from roboos.brain.policies.pi0.model import Pi0Model

    say = progress or (lambda msg: None)
    if checkpoint:
        from roboos.brain.policies.pi0.checkpoint import load_checkpoint, load_config

        model = Pi0Model(load_config(checkpoint))
        load_checkpoint(model, checkpoint)
        source = f"checkpoint {checkpoint}"
    else:
        torch.manual_seed(0)
        model = Pi0Model(preset("tiny"))
        source = "tiny preset, random weights (no --checkpoint given)"
    model = model.float().cpu().eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32_path = out_dir / "pi0-expert-step.fp32.onnx"
    say("exporting pi0-expert-step to ONNX (fp32)")
    export_expert_step(model, fp32_path)
    say(f"converting to {precision}")
    path = _convert(fp32_path, out_dir / f"pi0-expert-step.{precision}.onnx", precision)
    if path != fp32_path:
        fp32_path.unlink()
    say("verifying with onnxruntime against PyTorch")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=providers)
    errors = []
    for seed in (11, 12):
        inputs = example_inputs(model, seed=seed)
        with torch.no_grad():
            ref = ExpertStep(model)(*(inputs[n] for n in INPUT_NAMES)).numpy()
        out = session.run(["velocity"], {n: inputs[n].numpy() for n in INPUT_NAMES})[0]
        errors.append(float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-12)))
    tol = TOLERANCE[precision]
    report = {"name": "pi0-expert-step", "file": path.name, "precision": precision, "source": source,
              "providers": session.get_providers(), "relative_l2_error": max(errors), "tolerance": tol,
              "verified": max(errors) <= tol, "bytes": path.stat().st_size}
    if not report["verified"]:
        raise ModelExportError(f"pi0-expert-step at {precision}: relative error {max(errors):.3g} exceeds {tol}")
    return report


def _convert(src: Path, dst: Path, precision: str) -> Path:
    if precision == "fp32":
        return src
    import onnx

    if precision in ("fp16", "bf16"):  # onnxruntime has no general bf16 CPU kernels: ship fp16 weights
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
        onnx.save(model, str(dst))
        return dst
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
        return dst
    raise ModelExportError(f"unsupported precision {precision}")
