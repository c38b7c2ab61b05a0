"""Export the models that run on the edge to ONNX at the profile's precision, verified with onnxruntime.

``pi0-expert-step``: the π0 action-expert step (``roboos.brain.policies.onnx_export``), from a
checkpoint folder or — without one — from the ``tiny`` preset with random weights (offline smoke
deployments; say so in the report). The fp32 export is compared with PyTorch on fresh inputs; fp16
(weights stored as float16, see :func:`_half_weights`) and int8 (dynamic quantization of MatMul/Gemm
weights) are compared with the same PyTorch outputs under a per-precision tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# relative L2 error allowed against the PyTorch fp32 output
TOLERANCE = {"fp32": 1e-4, "bf16": 1e-2, "fp16": 1e-2, "int8": 0.05}
Progress = Callable[[str], None]


class ModelExportError(RuntimeError):
    """A model could not be exported or failed verification."""


def available_models() -> dict[str, Callable[..., dict[str, Any]]]:
    return {"pi0-expert-step": export_pi0_expert_step}


def export_models(names: list[str], out_dir: Path, precision: str, providers: list[str],
                  checkpoint: str | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Export and verify each model; returns one report per model (stored in the bundle manifest)."""
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


def _half_weights(model: Any, min_elements: int = 1024) -> Any:
    """Store large float32 weights as float16, each followed by a Cast back to float32.

    A whole-graph fp16 conversion (onnxruntime's float16 converter) lost 8 % relative accuracy on the
    π0 step (the sinusoidal time embedding does not survive fp16), so the graph keeps float32 compute
    and only the weights — the size that matters on a module — are halved. bf16 ships the same way
    (onnxruntime has no general bf16 CPU kernels).
    """
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elements:
            continue
        half_name = init.name + "__fp16"
        graph.initializer.remove(init)
        graph.initializer.append(numpy_helper.from_array(arr.astype(np.float16), half_name))
        casts.append(helper.make_node("Cast", [half_name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{half_name}_to_fp32"))
    for node in reversed(casts):
        graph.node.insert(0, node)
    return model


def _convert(src: Path, dst: Path, precision: str) -> Path:
    if precision == "fp32":
        return src
    import onnx

    if precision in ("fp16", "bf16"):
        onnx.save(_half_weights(onnx.load(str(src))), str(dst))
        return dst
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # 7-bit weights (reduce_range): x86 CPUs without VNNI multiply u8 × s8 pairs into saturating int16
        # sums; with full 8-bit weights the tiny π0 step was 33 % off on an AVX2-only EPYC, 1.5 % with 7 bits
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                         reduce_range=True)
        return dst
    raise ModelExportError(f"unsupported precision {precision}")
