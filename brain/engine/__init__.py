"""Fast decode engine for HF decoder LMs: static KV cache, CUDA-graph decode steps, fused sampling.

Public API: :class:`FastGenerator`, :class:`SamplingParams`, :class:`GenerationOutput`,
:class:`EngineCapacityError`, :class:`UnsupportedModelError`. Imports torch only (no server libraries), so
it runs on a bare GPU box. See docs/brain.md.
"""

from roboos.brain.engine.decoder import UnsupportedModelError
from roboos.brain.engine.generator import EngineCapacityError, FastGenerator, GenerationOutput
from roboos.brain.engine.sampling import SamplingParams

__all__ = ["EngineCapacityError", "FastGenerator", "GenerationOutput", "SamplingParams", "UnsupportedModelError"]
