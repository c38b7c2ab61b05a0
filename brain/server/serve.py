"""Build the configured backend and run the brain server (used by ``roboos serve brain``)."""

from __future__ import annotations

from roboos.brain.server.settings import ServerSettings


def build_backend(settings: ServerSettings, progress: bool = True):
    """Load the model (transformers backend) or launch/attach vLLM, per ``settings.backend``."""
    if settings.backend == "vllm":
        from roboos.brain.server.vllm_backend import VllmBackend

        return VllmBackend.launch(settings)
    from roboos.brain.robobrain.loader import load_brain
    from roboos.brain.server.embedded import EmbeddedBackend

    if settings.kernel_table:  # W8A16 kernels read their PreTune table from here (roboos.brain.quant.ops)
        import os

        os.environ["ROBOOS_KERNEL_TABLE"] = settings.kernel_table

    brain = load_brain(settings.model, device=settings.device, dtype=settings.dtype, quant=settings.quant,
                       flaggems=settings.flaggems, name=settings.served_model_name, progress=progress)
    return EmbeddedBackend(brain, settings)


def build_app(settings: ServerSettings, progress: bool = True):
    """The FastAPI app for ``settings`` (model loaded or vLLM ready when this returns)."""
    from roboos.brain.server.app import create_app

    return create_app(build_backend(settings, progress), settings)

