"""Triton W8A16 kernels: int8 weights ``[N, K]`` with per-channel or group-wise scales, bf16/fp16
activations ``[M, K]``, float32 accumulation, output in the activation dtype.

* :func:`_w8a16_gemv_kernel` — decode path for M == 1: each program streams ``BLOCK_N`` weight rows over
  its K range with wide int8 loads and reduces in registers (no tensor cores: the work is reading bytes).
* :func:`_w8a16_gemv_persistent_kernel` — decode path variant (kind ``gemv_persistent``): a grid of
  ``group_m`` programs per SM walking the row tiles with a stride, x loaded once per program when
  K <= BLOCK_K, the tile loop software-pipelined ``num_stages`` deep, weights loaded evict-first.
* :func:`_w8a16_gemv_pdl_kernel` — decode path variant (kind ``gemv_pdl``) for programmatic dependent launch:
  the first weight tile is requested before waiting on the previous kernel, so back-to-back calls overlap.
* :func:`_w8a16_gemm_kernel` — tiled GEMM (tensor cores via ``tl.dot`` on weights converted to the
  activation dtype, which is exact for int8) for 2 <= M <= 16 (``BLOCK_M`` 16) and prefill; grouped tile
  ordering for L2 reuse.

Both take an optional split over K (``split_k > 1``): partial sums are atomically added into a zeroed
float32 buffer that is cast afterwards. Group-wise scales need ``group_size`` to divide ``K`` and the
block over K to be a multiple of the group (GEMM: equal to it).
"""

from __future__ import annotations

from functools import lru_cache

import torch

try:  # Triton is optional: CPU installs fall back to the torch path.
    import triton
    import triton.language as tl
except Exception:  # pragma: no cover - depends on the environment
    triton = None
    tl = None
try:  # grid dependency control (programmatic dependent launch, Hopper and newer)
    from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait
except Exception:  # noqa: BLE001  # pragma: no cover - older Triton
    gdc_launch_dependents = gdc_wait = None

SUPPORTED_DTYPES = (torch.bfloat16, torch.float16)


class KernelLaunchError(ValueError):
    """Inputs or config that the W8A16 kernels cannot run."""


if triton is not None:

    @triton.jit
    def _w8a16_gemv_kernel(x_ptr, w_ptr, s_ptr, b_ptr, out_ptr, N, K, K_PER_SPLIT,
                           stride_xm, stride_xk, stride_wn, stride_sn, stride_om,
                           GROUP: tl.constexpr, HAS_BIAS: tl.constexpr, ATOMIC: tl.constexpr,
                           EVEN_N: tl.constexpr, EVEN_K: tl.constexpr,
                           BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
        pid_n = tl.program_id(0)
        row = tl.program_id(1)
        pid_k = tl.program_id(2)
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        n_mask = offs_n < N
        k_start = pid_k * K_PER_SPLIT
        k_end = tl.minimum(k_start + K_PER_SPLIT, K)
        x_row = x_ptr + row.to(tl.int64) * stride_xm
        w_rows = w_ptr + offs_n[:, None].to(tl.int64) * stride_wn
        acc = tl.zeros([BLOCK_N], dtype=tl.float32)
        for k0 in range(k_start, k_end, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            if EVEN_K:
                x = tl.load(x_row + offs_k * stride_xk)
            else:
                x = tl.load(x_row + offs_k * stride_xk, mask=offs_k < K, other=0.0)
            if EVEN_N and EVEN_K:
                w = tl.load(w_rows + offs_k[None, :])
            else:
                w = tl.load(w_rows + offs_k[None, :], mask=n_mask[:, None] & (offs_k[None, :] < K), other=0)
            prod = w.to(tl.float32) * x.to(tl.float32)[None, :]
            if GROUP > 0:
                part = tl.sum(tl.reshape(prod, (BLOCK_N, BLOCK_K // GROUP, GROUP)), axis=2)
                offs_g = k0 // GROUP + tl.arange(0, BLOCK_K // GROUP)
                s = tl.load(s_ptr + offs_n[:, None] * stride_sn + offs_g[None, :],
                            mask=n_mask[:, None] & (offs_g[None, :] < K // GROUP), other=0.0)
                acc += tl.sum(part * s.to(tl.float32), axis=1)
            else:
                acc += tl.sum(prod, axis=1)
        if GROUP == 0:
            acc = acc * tl.load(s_ptr + offs_n * stride_sn, mask=n_mask, other=0.0).to(tl.float32)
        if HAS_BIAS:
            bias = tl.load(b_ptr + offs_n, mask=n_mask, other=0.0).to(tl.float32)
            acc += tl.where(pid_k == 0, bias, 0.0)
        out = out_ptr + row.to(tl.int64) * stride_om + offs_n
        if ATOMIC:
            tl.atomic_add(out, acc, mask=n_mask)
        else:
            tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=n_mask)

    @triton.jit
    def _gemv_load_w(w_rows, n_mask, k0, K, MASKED: tl.constexpr, BLOCK_K: tl.constexpr):
        """One ``[BLOCK_N, BLOCK_K]`` int8 weight tile, streamed once (evict-first)."""
        offs_k = k0 + tl.arange(0, BLOCK_K)
        if MASKED:
            w = tl.load(w_rows + offs_k[None, :], mask=n_mask[:, None] & (offs_k[None, :] < K), other=0,
                        eviction_policy="evict_first")
        else:
            w = tl.load(w_rows + offs_k[None, :], eviction_policy="evict_first")
        return w

    @triton.jit
    def _gemv_load_x(x_row, k0, K, stride_xk, EVEN_K: tl.constexpr, BLOCK_K: tl.constexpr):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        if EVEN_K:
            x = tl.load(x_row + offs_k * stride_xk)
        else:
            x = tl.load(x_row + offs_k * stride_xk, mask=offs_k < K, other=0.0)
        return x

    @triton.jit
    def _gemv_dot(w, x, s_ptr, offs_n, n_mask, k0, K, stride_sn, GROUP: tl.constexpr, BLOCK_N: tl.constexpr,
                  BLOCK_K: tl.constexpr):
        """Partial dot products of a weight tile with one ``BLOCK_K`` slice of x (fp32, group scales applied)."""
        prod = w.to(tl.float32) * x.to(tl.float32)[None, :]
        if GROUP > 0:
            part = tl.sum(tl.reshape(prod, (BLOCK_N, BLOCK_K // GROUP, GROUP)), axis=2)
            offs_g = k0 // GROUP + tl.arange(0, BLOCK_K // GROUP)
            s = tl.load(s_ptr + offs_n[:, None] * stride_sn + offs_g[None, :],
                        mask=n_mask[:, None] & (offs_g[None, :] < K // GROUP), other=0.0)
            res = tl.sum(part * s.to(tl.float32), axis=1)
        else:
            res = tl.sum(prod, axis=1)
        return res

    @triton.jit
    def _gemv_store(acc, s_ptr, b_ptr, out_row, offs_n, n_mask, stride_sn, GROUP: tl.constexpr,
                    HAS_BIAS: tl.constexpr):
        if GROUP == 0:
            acc = acc * tl.load(s_ptr + offs_n * stride_sn, mask=n_mask, other=0.0).to(tl.float32)
        if HAS_BIAS:
            acc += tl.load(b_ptr + offs_n, mask=n_mask, other=0.0).to(tl.float32)
        tl.store(out_row + offs_n, acc.to(out_row.dtype.element_ty), mask=n_mask)

    @triton.jit
    def _w8a16_gemv_pdl_kernel(x_ptr, w_ptr, s_ptr, b_ptr, out_ptr, N, K,
                               stride_xm, stride_xk, stride_wn, stride_sn, stride_om,
                               GROUP: tl.constexpr, HAS_BIAS: tl.constexpr, EVEN_K: tl.constexpr,
                               MASKED: tl.constexpr, PDL: tl.constexpr, BLOCK_N: tl.constexpr,
                               BLOCK_K: tl.constexpr):
        """GEMV for programmatic dependent launch: the first weight tile (which no earlier kernel writes) is
        requested *before* waiting for the previous kernel (``gdc_wait``), and the next kernel may launch
        as soon as every program got here, so one call's ramp-up overlaps the previous call's tail.
        x is read and the output written only after the wait. Without PDL the wait is skipped."""
        pid_n = tl.program_id(0)
        row = tl.program_id(1)
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        n_mask = offs_n < N
        w_rows = w_ptr + offs_n[:, None].to(tl.int64) * stride_wn
        x_row = x_ptr + row.to(tl.int64) * stride_xm
        w = _gemv_load_w(w_rows, n_mask, 0, K, MASKED, BLOCK_K)
        if PDL:
            gdc_wait()
            gdc_launch_dependents()
        x = _gemv_load_x(x_row, 0, K, stride_xk, EVEN_K, BLOCK_K)
        acc = _gemv_dot(w, x, s_ptr, offs_n, n_mask, 0, K, stride_sn, GROUP, BLOCK_N, BLOCK_K)
        for k0 in range(BLOCK_K, K, BLOCK_K):
            w = _gemv_load_w(w_rows, n_mask, k0, K, MASKED, BLOCK_K)
            x = _gemv_load_x(x_row, k0, K, stride_xk, EVEN_K, BLOCK_K)
            acc += _gemv_dot(w, x, s_ptr, offs_n, n_mask, k0, K, stride_sn, GROUP, BLOCK_N, BLOCK_K)
        _gemv_store(acc, s_ptr, b_ptr, out_ptr + row.to(tl.int64) * stride_om, offs_n, n_mask, stride_sn, GROUP,
                    HAS_BIAS)

    @triton.jit
    def _w8a16_gemv_persistent_kernel(x_ptr, w_ptr, s_ptr, b_ptr, out_ptr, N, K,
                                      stride_xm, stride_xk, stride_wn, stride_sn, stride_om,
                                      GROUP: tl.constexpr, HAS_BIAS: tl.constexpr, EVEN_N: tl.constexpr,
                                      EVEN_K: tl.constexpr, MASKED: tl.constexpr, SINGLE_K: tl.constexpr,
                                      BLOCK_N: tl.constexpr,
                                      BLOCK_K: tl.constexpr, NUM_PROGRAMS, STAGES: tl.constexpr):
        """Persistent GEMV: ``NUM_PROGRAMS`` programs per activation row walk the tiles of ``BLOCK_N`` output
        rows with a stride, so every SM keeps loads in flight from start to end (no block ramp between
        waves). With ``SINGLE_K`` (K <= BLOCK_K) x is loaded once per program and the tile loop is the
        innermost loop, which Triton software-pipelines ``STAGES`` deep."""
        pid = tl.program_id(0)
        row = tl.program_id(1)
        x_row = x_ptr + row.to(tl.int64) * stride_xm
        out_row = out_ptr + row.to(tl.int64) * stride_om
        num_tiles = tl.cdiv(N, BLOCK_N)
        if SINGLE_K:
            x_all = _gemv_load_x(x_row, 0, K, stride_xk, EVEN_K, BLOCK_K)
        for tile in tl.range(pid, num_tiles, NUM_PROGRAMS, num_stages=STAGES):
            offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
            n_mask = offs_n < N
            w_rows = w_ptr + offs_n[:, None].to(tl.int64) * stride_wn
            if SINGLE_K:
                w = _gemv_load_w(w_rows, n_mask, 0, K, MASKED, BLOCK_K)
                acc = _gemv_dot(w, x_all, s_ptr, offs_n, n_mask, 0, K, stride_sn, GROUP, BLOCK_N, BLOCK_K)
            else:
                acc = tl.zeros([BLOCK_N], dtype=tl.float32)
                for k0 in range(0, K, BLOCK_K):
                    w = _gemv_load_w(w_rows, n_mask, k0, K, MASKED, BLOCK_K)
                    x = _gemv_load_x(x_row, k0, K, stride_xk, EVEN_K, BLOCK_K)
                    acc += _gemv_dot(w, x, s_ptr, offs_n, n_mask, k0, K, stride_sn, GROUP, BLOCK_N, BLOCK_K)
            _gemv_store(acc, s_ptr, b_ptr, out_row, offs_n, n_mask, stride_sn, GROUP, HAS_BIAS)

    @triton.jit
    def _w8a16_gemm_kernel(x_ptr, w_ptr, s_ptr, b_ptr, out_ptr, M, N, K, K_PER_SPLIT,
                           stride_xm, stride_xk, stride_wn, stride_sn, stride_om,
                           GROUP: tl.constexpr, HAS_BIAS: tl.constexpr, ATOMIC: tl.constexpr,
                           EVEN_K: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                           BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, UPCAST: tl.constexpr):
        pid = tl.program_id(0)
        pid_k = tl.program_id(1)
        num_m = tl.cdiv(M, BLOCK_M)
        num_n = tl.cdiv(N, BLOCK_N)
        width = GROUP_M * num_n
        first_m = (pid // width) * GROUP_M
        group_rows = tl.minimum(num_m - first_m, GROUP_M)
        pid_m = first_m + (pid % width) % group_rows
        pid_n = (pid % width) // group_rows
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        m_mask = offs_m < M
        n_mask = offs_n < N
        rm = tl.where(m_mask, offs_m, 0).to(tl.int64)  # clamp: loads stay in bounds without M/N masks
        rn = tl.where(n_mask, offs_n, 0).to(tl.int64)
        k_start = pid_k * K_PER_SPLIT
        k_end = tl.minimum(k_start + K_PER_SPLIT, K)
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        for k0 in range(k_start, k_end, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            x_ptrs = x_ptr + rm[:, None] * stride_xm + offs_k[None, :] * stride_xk
            w_ptrs = w_ptr + rn[None, :] * stride_wn + offs_k[:, None]
            if EVEN_K:
                x = tl.load(x_ptrs)
                w = tl.load(w_ptrs)
            else:
                x = tl.load(x_ptrs, mask=offs_k[None, :] < K, other=0.0)
                w = tl.load(w_ptrs, mask=offs_k[:, None] < K, other=0)
            if UPCAST:  # CPU interpreter only: its bf16 dot is wrong, so both operands go to fp32 (exact)
                x = x.to(tl.float32)
                w = w.to(tl.float32)
            else:
                w = w.to(x_ptr.dtype.element_ty)  # int8 -> bf16/fp16 is exact
            if GROUP > 0:
                s = tl.load(s_ptr + rn * stride_sn + k0 // GROUP).to(tl.float32)
                acc += tl.dot(x, w, out_dtype=tl.float32) * s[None, :]
            else:
                acc = tl.dot(x, w, acc, out_dtype=tl.float32)
        if GROUP == 0:
            acc = acc * tl.load(s_ptr + rn * stride_sn).to(tl.float32)[None, :]
        if HAS_BIAS:
            bias = tl.load(b_ptr + rn).to(tl.float32)
            acc += tl.where(pid_k == 0, bias, 0.0)[None, :]
        out = out_ptr + offs_m[:, None].to(tl.int64) * stride_om + offs_n[None, :]
        mask = m_mask[:, None] & n_mask[None, :]
        if ATOMIC:
            tl.atomic_add(out, acc, mask=mask)
        else:
            tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=mask)


def _check_inputs(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
                  group_size: int) -> None:
    if triton is None:
        raise KernelLaunchError("Triton is not available")
    if x.dim() != 2:
        raise KernelLaunchError(f"x must be 2-D [M, K], got {tuple(x.shape)}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise KernelLaunchError(f"activation dtype {x.dtype} not supported (bf16/fp16)")
    if qweight.dtype != torch.int8 or qweight.dim() != 2 or qweight.stride(1) != 1:
        raise KernelLaunchError("qweight must be a 2-D int8 tensor, contiguous along K")
    n, k = qweight.shape
    if x.shape[1] != k:
        raise KernelLaunchError(f"x has K={x.shape[1]}, weight has K={k}")
    groups = k // group_size if group_size else 1
    if scale.shape != (n, groups) or scale.stride(1) != 1:
        raise KernelLaunchError(f"scale must be [{n}, {groups}] contiguous along groups, got {tuple(scale.shape)}")
    if bias is not None and (bias.shape != (n,) or not bias.is_contiguous()):
        raise KernelLaunchError(f"bias must be contiguous [{n}]")
    devices = {t.device for t in (x, qweight, scale) + ((bias,) if bias is not None else ())}
    if len(devices) != 1:
        raise KernelLaunchError(f"tensors on different devices: {devices}")


@lru_cache(maxsize=8)
def _sm_count(device: torch.device) -> int:
    """Multiprocessor count (the persistent GEMV launches a multiple of it; 4 on CPU / interpreter)."""
    if device.type != "cuda":
        return 4
    return torch.cuda.get_device_properties(device).multi_processor_count


def w8a16_triton(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
                 group_size: int, cfg, out: torch.Tensor | None = None) -> torch.Tensor:
    """Run ``x [M, K] @ (qweight * scale).T + bias`` with the kernel and blocks of ``cfg`` (a KernelConfig)."""
    group_size = int(group_size or 0)
    _check_inputs(x, qweight, scale, bias, group_size)
    m, k = x.shape
    n = qweight.shape[0]
    block_k = cfg.block_k
    if group_size:
        if cfg.kind == "gemm":
            block_k = group_size
        elif block_k % group_size:
            raise KernelLaunchError(f"block_k {block_k} is not a multiple of group_size {group_size}")
    persistent = cfg.kind in ("gemv_persistent", "gemv_pdl")  # whole rows per program: no split over K
    split_k = 1 if persistent else max(1, min(int(cfg.split_k), triton.cdiv(k, block_k)))
    k_per_split = triton.cdiv(triton.cdiv(k, block_k), split_k) * block_k
    split_k = triton.cdiv(k, k_per_split)
    atomic = split_k > 1
    if atomic:
        target = torch.zeros((m, n), device=x.device, dtype=torch.float32)
    else:
        target = out if out is not None else torch.empty((m, n), device=x.device, dtype=x.dtype)
    if m == 0:
        return target.to(x.dtype) if atomic else target
    b_arg = bias if bias is not None else scale  # any valid pointer; unused when HAS_BIAS is False
    even_k = k % block_k == 0
    common = dict(GROUP=group_size, HAS_BIAS=bias is not None, ATOMIC=atomic, EVEN_K=even_k,
                  BLOCK_N=cfg.block_n, BLOCK_K=block_k, num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    if cfg.kind == "gemv_pdl":
        pdl = x.is_cuda and gdc_wait is not None and torch.cuda.get_device_capability(x.device)[0] >= 9
        _w8a16_gemv_pdl_kernel[(triton.cdiv(n, cfg.block_n), m)](
            x, qweight, scale, b_arg, target, n, k, x.stride(0), x.stride(1), qweight.stride(0), scale.stride(0),
            target.stride(0), GROUP=group_size, HAS_BIAS=bias is not None, EVEN_K=even_k,
            MASKED=not (even_k and n % cfg.block_n == 0), PDL=pdl, BLOCK_N=cfg.block_n, BLOCK_K=block_k,
            num_warps=cfg.num_warps, num_stages=cfg.num_stages, **({"launch_pdl": True} if pdl else {}))
        return target
    if persistent:  # group_m programs per SM
        programs = max(1, min(triton.cdiv(n, cfg.block_n), _sm_count(x.device) * cfg.group_m))
        _w8a16_gemv_persistent_kernel[(programs, m)](
            x, qweight, scale, b_arg, target, n, k, x.stride(0), x.stride(1), qweight.stride(0), scale.stride(0),
            target.stride(0), NUM_PROGRAMS=programs, GROUP=group_size, HAS_BIAS=bias is not None,
            EVEN_N=n % cfg.block_n == 0, EVEN_K=even_k, MASKED=not (even_k and n % cfg.block_n == 0),
            SINGLE_K=k <= block_k, BLOCK_N=cfg.block_n, BLOCK_K=block_k, STAGES=cfg.num_stages,
            num_warps=cfg.num_warps, num_stages=cfg.num_stages)
        return target
    if cfg.kind == "gemv":
        grid = (triton.cdiv(n, cfg.block_n), m, split_k)
        _w8a16_gemv_kernel[grid](x, qweight, scale, b_arg, target, n, k, k_per_split,
                                 x.stride(0), x.stride(1), qweight.stride(0), scale.stride(0), target.stride(0),
                                 EVEN_N=n % cfg.block_n == 0, **common)
    elif cfg.kind == "gemm":
        grid = (triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n), split_k)
        _w8a16_gemm_kernel[grid](x, qweight, scale, b_arg, target, m, n, k, k_per_split,
                                 x.stride(0), x.stride(1), qweight.stride(0), scale.stride(0), target.stride(0),
                                 BLOCK_M=cfg.block_m, GROUP_M=cfg.group_m,
                                 UPCAST=x.device.type == "cpu" and x.dtype == torch.bfloat16, **common)
    else:
        raise KernelLaunchError(f"unknown kernel kind {cfg.kind!r}")
    if atomic:
        if out is not None:
            out.copy_(target)
            return out
        return target.to(x.dtype)
    return target
