"""Brain server settings (one pydantic model; the CLI fills it, YAML can too via ``roboos.config``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VllmSettings(BaseModel):
    """How to launch (or attach to) a vLLM / FlagScale OpenAI-compatible endpoint."""

    model_config = ConfigDict(extra="forbid")

    attach_url: str | None = Field(default=None, description="use a running endpoint instead of launching one")
    api_key: str | None = None
    executable: str = "vllm"
    port: int = 0  # 0: pick a free port
    tensor_parallel_size: int = Field(default=1, ge=1)
    max_num_seqs: int = Field(default=64, ge=1)
    max_model_len: int = Field(default=8192, ge=256)
    gpu_memory_utilization: float = Field(default=0.9, gt=0.0, le=1.0)
    enable_chunked_prefill: bool = True
    tool_call_parser: str = "hermes"
    dtype: str = "bfloat16"
    extra_args: list[str] = Field(default_factory=list)
    startup_timeout_s: float = 900.0


class ServerSettings(BaseModel):
    """Everything ``roboos serve brain`` configures (unknown keys are errors: typos do not pass silently)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(description="local folder or hub id of the RoboBrain checkpoint")
    served_model_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None  # when set, every route but /health needs "Authorization: Bearer <key>"
    tls_cert: str | None = None  # PEM certificate (chain): with tls_key, serve HTTPS only
    tls_key: str | None = None   # PEM private key, mode 0600
    backend: Literal["transformers", "vllm"] = "transformers"
    quant: Literal["none", "w8a16"] = "none"
    flaggems: bool = False
    device: str | None = None
    dtype: str | None = None
    use_engine: bool = True
    use_cuda_graph: bool | None = None  # fast engine: capture decode steps as CUDA graphs (None: on CUDA)
    kernel_table: str | None = None     # W8A16 PreTune table file (default: configs/kernels/<gpu>.json)
    max_batch_size: int = Field(default=8, ge=1, le=64)
    max_seq_len: int = Field(default=8192, ge=64)
    batch_window_ms: float = Field(default=10.0, ge=0.0)
    max_queue: int = Field(default=256, ge=1)
    default_max_tokens: int = Field(default=1024, ge=1)
    max_new_tokens_limit: int = Field(default=4096, ge=1)
    default_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    enable_thinking: bool = False
    request_timeout_s: float = Field(default=300.0, gt=0)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_prompt_chars: int = Field(default=200_000, ge=1)
    max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=40_000_000, ge=64)
    allow_file_images: bool = False  # True lets API clients name local image files (within image_roots)
    image_roots: list[str] = Field(default_factory=list)
    vision_min_pixels: int = 56 * 56
    vision_max_pixels: int = 28 * 28 * 1280
    vllm: VllmSettings = Field(default_factory=VllmSettings)

    def model_name(self) -> str:
        return self.served_model_name or self.model.rstrip("/").split("/")[-1]
