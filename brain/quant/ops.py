"""``w8a16_matmul``: the one entry point the W8A16 modules call.

Dispatch: on CUDA (or under ``TRITON_INTERPRET=1`` for CPU tensors) the Triton kernels run with the config
of the PreTune table for this GPU (``configs/kernels/<gpu>.json``) or the heuristic; a table entry of kind
``flag_gems`` runs FlagGems' int8-weight kernel when it is importable. Elsewhere (CPU without the interpreter,
unsupported dtypes) the torch fallback dequantizes and calls ``F.linear``.

Under ``torch.compile`` the call goes through the custom op ``torch.ops.roboos.w8a16_matmul`` (opaque to
the compiler, with a shape-only fake implementation), so a compiled model holding W8A16 layers traces as
one graph — no graph break at every kernel launch — and the compiler fuses the pointwise work around it.
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch
from roboos.brain.quant import kernels
from roboos.brain.quant.configs import (
    ConfigTable,
    KernelConfig,
    heuristic_config,
    select_config,
    table_for_gpu,
)
from roboos.brain.quant.reference import w8a16_matmul_torch

_DTYPE_NAMES = {torch.bfloat16: "bfloat16", torch.float16: "float16"}


def interpret_mode() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def kernels_usable(x: torch.Tensor) -> bool:
    """Whether the Triton kernels serve ``x`` (env ``ROBOOS_W8A16_TRITON=0`` forces the torch path)."""
    if kernels.triton is None or x.dtype not in kernels.SUPPORTED_DTYPES:
        return False
    if os.environ.get("ROBOOS_W8A16_TRITON", "1") == "0":
        return False
    return x.is_cuda or (x.device.type == "cpu" and interpret_mode())


@lru_cache(maxsize=8)
def _device_info(index: int) -> tuple[str, int]:
    props = torch.cuda.get_device_properties(index)
    return props.name, props.multi_processor_count


def active_table(device: torch.device) -> tuple[ConfigTable | None, int]:
    """PreTune table and SM count for ``device`` (``ROBOOS_KERNEL_TABLE`` names a table file explicitly)."""
    if device.type != "cuda":
        return None, 4
    name, sms = _device_info(device.index if device.index is not None else torch.cuda.current_device())
    override = os.environ.get("ROBOOS_KERNEL_TABLE")
    if override:
        from roboos.brain.quant.configs import load_table
        return _cached_table_file(override, load_table), sms
    return table_for_gpu(name), sms


_TABLE_FILES: dict[str, ConfigTable] = {}


def _cached_table_file(path: str, loader) -> ConfigTable:
    if path not in _TABLE_FILES:
        _TABLE_FILES[path] = loader(path)
    return _TABLE_FILES[path]


def choose_config(m: int, n: int, k: int, group_size: int, dtype: torch.dtype, device: torch.device
                  ) -> tuple[KernelConfig, str]:
    """Kernel config for one call: table entry, else heuristic."""
    table, sms = active_table(device)
    return select_config(m, n, k, group_size, _DTYPE_NAMES.get(dtype, str(dtype)), table, sms)


def w8a16_matmul(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None,
                 group_size: int = 0, config: KernelConfig | None = None) -> torch.Tensor:
    """``x @ (qweight * scale).T + bias`` for ``x [..., K]``; returns ``[..., N]`` in x's dtype."""
    if config is None and torch.compiler.is_compiling():
        return torch.ops.roboos.w8a16_matmul(x, qweight, scale, bias, int(group_size))
    return _w8a16_matmul_eager(x, qweight, scale, bias, group_size, config)


def _w8a16_matmul_eager(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
                        group_size: int, config: KernelConfig | None) -> torch.Tensor:
    lead = x.shape[:-1]
    k = x.shape[-1]
    x2 = x.reshape(-1, k)
    n = qweight.shape[0]
    if not kernels_usable(x2):
        return w8a16_matmul_torch(x2, qweight, scale, bias).view(*lead, n)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    m = x2.shape[0]
    cfg = config
    if cfg is None:
        cfg, _ = choose_config(m, n, k, group_size, x2.dtype, x2.device)
    if cfg.kind == "flag_gems":
        from roboos.brain.quant import flaggems
        if flaggems.available() and group_size == 0:
            return flaggems.w8a16_linear(x2, qweight, scale, bias).view(*lead, n)
        cfg = heuristic_config(m, n, k, group_size)
    return kernels.w8a16_triton(x2, qweight, scale, bias, group_size, cfg).view(*lead, n)


@torch.library.custom_op("roboos::w8a16_matmul", mutates_args=())
def _w8a16_op(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
              group_size: int) -> torch.Tensor:
    """The compiled-graph entry: the same dispatch as :func:`w8a16_matmul` (table config, Triton or torch)."""
    return _w8a16_matmul_eager(x, qweight, scale, bias, group_size, None)


@_w8a16_op.register_fake
def _w8a16_fake(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
                group_size: int) -> torch.Tensor:
    return x.new_empty((*x.shape[:-1], qweight.shape[0]))
