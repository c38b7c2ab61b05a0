"""One fused Triton kernel for π0's attention: scores, additive bias, softmax and the value product in a
single launch, with the query heads of a KV head folded onto the query axis (see
:func:`~roboos.brain.policies.pi0.layers.attend`).

π0's attention is small and launch-bound: per expert layer and Euler step 50 actions × 8 heads = 400 query
rows against ~360 keys of one KV head (D = 256). Written as two matmuls and a softmax it costs three kernels
(~8 µs on an H100 in the profile of the fused expert); here each program owns ``BLOCK_M`` query rows and
one of ``splits`` slices of the keys, streams them in ``BLOCK_N`` tiles with an online softmax in float32,
and, split over keys, writes its unnormalised partial (row max, row sum, fp32 accumulator) to an
:class:`AttentionWorkspace`; the last program of a row block to finish (a per-block counter it resets)
merges the slices and writes the rows once. Splitting the keys spreads the key/value reads over more SMs:
with one slice the 400 rows give only 25 programs, each walking all keys (16.5 µs per call graph-timed,
4 slices 9.1 µs, docs/vla.md).

``attention="triton"`` runs the whole model's attention on it; under ``torch.compile`` it is the custom op
``torch.ops.roboos.pi0_attention`` (opaque to the compiler, shape-only fake), so a compiled step traces as
one graph. The fused expert (``fused_expert.py``) calls it with a per-chunk workspace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

try:  # Triton is optional: without it attend() keeps the math / SDPA paths.
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001  # pragma: no cover - depends on the environment
    triton = None
    tl = None


class AttentionLaunchError(ValueError):
    """Inputs the fused attention kernel cannot run."""


@dataclass
class AttentionWorkspace:
    """Scratch of the key-split kernel for up to ``programs`` (batch·KV·row block) and ``splits`` slices:
    fp32 partial accumulators and (row max, row sum) pairs, and int32 per-row-block counters that start at
    zero and are reset by the program that merges (so one workspace serves every call and graph replay)."""

    acc: torch.Tensor  # (programs · splits · BLOCK_M, D) fp32
    ml: torch.Tensor  # (programs · splits · BLOCK_M, 2) fp32
    counters: torch.Tensor  # (programs,) int32

    @classmethod
    def allocate(cls, programs: int, splits: int, block_m: int, d: int, device: torch.device) -> AttentionWorkspace:
        rows = programs * splits * block_m
        return cls(torch.empty(rows, d, device=device, dtype=torch.float32),
                   torch.empty(rows, 2, device=device, dtype=torch.float32),
                   torch.zeros(programs, device=device, dtype=torch.int32))

    def fits(self, programs: int, splits: int, block_m: int, d: int) -> bool:
        rows = programs * splits * block_m
        return self.acc.shape[0] >= rows and self.acc.shape[1] == d and self.counters.numel() >= programs


if triton is not None:

    @triton.jit
    def _pi0_attention_kernel(q_ptr, k_ptr, v_ptr, b_ptr, o_ptr, acc_ptr, ml_ptr, cnt_ptr,
                              TQ, TK, KV, KEYS, scale,
                              sq_b, sq_t, sk_b, sk_t, sv_b, sv_t, sb_b, sb_q, sb_k, so_b, so_t,
                              D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                              SPLITS: tl.constexpr, UPCAST: tl.constexpr):
        pid_m = tl.program_id(0)
        bh = tl.program_id(1).to(tl.int64)
        sp = tl.program_id(2)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, D)
        m_ok = offs_m < TQ
        q = tl.load(q_ptr + bh * sq_b + offs_m[:, None].to(tl.int64) * sq_t + offs_d[None, :],
                    mask=m_ok[:, None], other=0.0)
        if UPCAST:  # CPU interpreter only: its bf16 dot is wrong
            q = q.to(tl.float32)
        m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
        acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
        lo = sp * KEYS
        hi = tl.minimum(lo + KEYS, TK)
        for n0 in range(lo, hi, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)
            n_ok = offs_n < hi
            k = tl.load(k_ptr + bh * sk_b + offs_n[:, None].to(tl.int64) * sk_t + offs_d[None, :],
                        mask=n_ok[:, None], other=0.0)
            v = tl.load(v_ptr + bh * sv_b + offs_n[:, None].to(tl.int64) * sv_t + offs_d[None, :],
                        mask=n_ok[:, None], other=0.0)
            if UPCAST:
                k = k.to(tl.float32)
                v = v.to(tl.float32)
            s = tl.dot(q, tl.trans(k), out_dtype=tl.float32) * scale
            bias = tl.load(b_ptr + (bh // KV) * sb_b + offs_m[:, None] * sb_q + offs_n[None, :] * sb_k,
                           mask=m_ok[:, None] & n_ok[None, :], other=float("-inf"))
            s = s + bias.to(tl.float32)
            m_new = tl.maximum(m_i, tl.max(s, axis=1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with every key masked so far
            alpha = tl.exp(m_i - m_safe)
            p = tl.exp(s - m_safe[:, None])
            l_i = l_i * alpha + tl.sum(p, axis=1)
            if UPCAST:
                acc = acc * alpha[:, None] + tl.dot(p, v, out_dtype=tl.float32)
            else:
                acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, out_dtype=tl.float32)
            m_i = m_new
        out_ptrs = o_ptr + bh * so_b + offs_m[:, None].to(tl.int64) * so_t + offs_d[None, :]
        if SPLITS == 1:
            out = acc / tl.where(l_i > 0.0, l_i, 1.0)[:, None]  # l_i = 0 only on rows past TQ (not stored)
            tl.store(out_ptrs, out.to(o_ptr.dtype.element_ty), mask=m_ok[:, None])
        else:
            # this slice's partial, then the row block's counter (acq_rel): its last slice merges them
            block = bh * tl.num_programs(0) + pid_m
            rows = (block * SPLITS + sp) * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)
            tl.store(acc_ptr + rows[:, None] * D + offs_d[None, :], acc)
            tl.store(ml_ptr + rows * 2, m_i)
            tl.store(ml_ptr + rows * 2 + 1, l_i)
            tl.debug_barrier()
            if tl.atomic_add(cnt_ptr + block, 1) == SPLITS - 1:
                first = block * SPLITS * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)
                m_all = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
                for j in tl.static_range(SPLITS):
                    m_all = tl.maximum(m_all, tl.load(ml_ptr + (first + j * BLOCK_M) * 2, cache_modifier=".cg"))
                m_all = tl.where(m_all == float("-inf"), 0.0, m_all)
                l_all = tl.zeros([BLOCK_M], dtype=tl.float32)
                out = tl.zeros([BLOCK_M, D], dtype=tl.float32)
                for j in tl.static_range(SPLITS):
                    r = first + j * BLOCK_M
                    w = tl.exp(tl.load(ml_ptr + r * 2, cache_modifier=".cg") - m_all)
                    l_all += w * tl.load(ml_ptr + r * 2 + 1, cache_modifier=".cg")
                    out += w[:, None] * tl.load(acc_ptr + r[:, None] * D + offs_d[None, :], cache_modifier=".cg")
                out = out / tl.where(l_all > 0.0, l_all, 1.0)[:, None]
                tl.store(out_ptrs, out.to(o_ptr.dtype.element_ty), mask=m_ok[:, None])
                tl.atomic_xchg(cnt_ptr + block, 0)  # ready for the next launch


BLOCKS: tuple[int, int, int, int] | None = None  # overrides block_sizes() (tile sweeps, expert_tune)


def block_sizes(tq: int, d: int) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps, num_stages): 16 query rows per program when that gives fewer than two
    waves on an H100 (the action step: 400 rows), else 64; key tiles sized to keep a three-stage pipeline in
    shared memory at D = 256 (the H100 sweep's best). :data:`BLOCKS` overrides them."""
    if BLOCKS is not None:
        return BLOCKS
    block_m = 16 if tq <= 16 * 264 else 64
    block_n = 64 if d <= 128 else 32
    return block_m, block_n, 4, 3


def split_keys(tk: int, splits: int) -> tuple[int, int]:
    """(keys per slice, slices): at most ``splits`` equal slices of the ``tk`` keys, none of them empty."""
    keys = -(-tk // max(1, splits))
    return keys, -(-tk // keys)


def default_splits(programs: int, tk: int, block_n: int, device: torch.device) -> int:
    """Key slices that bring ``programs`` row blocks up to about one program per SM (1 off the GPU), with at
    least three key tiles per slice (π0's expert on an H100: 4 slices of 90 keys, 9.1 µs; 5 slices 9.7)."""
    if device.type != "cuda":
        return 1
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    return max(1, min(sms // max(1, programs), triton.cdiv(tk, 3 * block_n)))


@dataclass(frozen=True)
class LaunchPlan:
    """How the kernel covers one call: row blocks of ``block_m`` queries (``programs`` over batch and KV
    heads), key tiles of ``block_n``, and ``splits`` slices of ``keys`` keys each."""

    block_m: int
    block_n: int
    warps: int
    stages: int
    row_blocks: int
    programs: int
    keys: int
    splits: int

    def workspace(self, d: int, device: torch.device) -> AttentionWorkspace:
        return AttentionWorkspace.allocate(self.programs, self.splits, self.block_m, d, device)


def plan(b: int, kv: int, tq: int, tk: int, d: int, device: torch.device, splits: int | None = None) -> LaunchPlan:
    """The launch of one call (``splits`` None: :func:`default_splits`)."""
    block_m, block_n, warps, stages = block_sizes(tq, d)
    row_blocks = -(-tq // block_m)
    programs = row_blocks * b * kv
    keys, splits = split_keys(tk, splits or default_splits(programs, tk, block_n, device))
    return LaunchPlan(block_m, block_n, warps, stages, row_blocks, programs, keys, splits)


def fused_attention(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                    scale: float | None = None, splits: int | None = None,
                    workspace: AttentionWorkspace | None = None) -> torch.Tensor:
    """``softmax(qf kᵀ · scale + bias) v`` for ``qf`` (B, KV, Tq, D), ``k``/``v`` (B, KV, Tk, D) and an
    additive ``bias`` broadcastable to (B, KV, Tq, Tk) (``-inf`` = masked; every row needs one finite key).
    Returns (B, KV, Tq, D) in ``qf``'s dtype. ``splits``: key slices (default: :func:`default_splits`);
    ``workspace``: the split kernel's scratch, reused across calls (allocated per call when omitted)."""
    scale = float(scale or 1.0 / math.sqrt(qf.shape[-1]))
    if torch.compiler.is_compiling():
        return torch.ops.roboos.pi0_attention(qf, k, v, bias, scale)
    return _launch(qf, k, v, bias, scale, splits, workspace)


def _launch(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, scale: float,
            splits: int | None = None, workspace: AttentionWorkspace | None = None) -> torch.Tensor:
    if triton is None:
        raise AttentionLaunchError("Triton is not available")
    if qf.dim() != 4 or k.shape != v.shape or k.dim() != 4 or qf.shape[:2] != k.shape[:2]:
        raise AttentionLaunchError(f"shapes q {tuple(qf.shape)} k {tuple(k.shape)} v {tuple(v.shape)}")
    b, kv, tq, d = qf.shape
    tk = k.shape[2]
    if k.shape[3] != d or d & (d - 1) or d < 16:
        raise AttentionLaunchError(f"head dim {d} must match the keys' and be a power of two >= 16")
    if qf.dtype not in (torch.bfloat16, torch.float16) or k.dtype != qf.dtype or v.dtype != qf.dtype:
        raise AttentionLaunchError(f"dtypes q {qf.dtype} k {k.dtype} v {v.dtype}: bf16/fp16, all the same")
    if bias.dim() != 4 or bias.shape[1] != 1 or bias.shape[0] not in (1, b) or bias.shape[2:] != (tq, tk):
        raise AttentionLaunchError(f"bias {tuple(bias.shape)} must be (B or 1, 1, {tq}, {tk})")
    if splits is not None and splits < 1:
        raise AttentionLaunchError(f"splits must be >= 1, got {splits}")
    if not (qf.is_cuda or (qf.device.type == "cpu" and _interpreting())):
        raise AttentionLaunchError("the fused attention needs a CUDA tensor (or TRITON_INTERPRET=1)")
    q3 = qf.reshape(b * kv, tq, d)
    k3, v3 = k.reshape(b * kv, tk, d), v.reshape(b * kv, tk, d)
    if q3.stride(2) != 1 or k3.stride(2) != 1 or v3.stride(2) != 1:
        q3, k3, v3 = q3.contiguous(), k3.contiguous(), v3.contiguous()
    # the kv heads of one batch element share its bias (program bh = batch * KV + head)
    bias_b = bias.stride(0) if bias.shape[0] > 1 else 0
    out = torch.empty((b * kv, tq, d), device=qf.device, dtype=qf.dtype)
    pl = plan(b, kv, tq, tk, d, qf.device, splits)
    if pl.splits > 1:
        if workspace is None:
            workspace = pl.workspace(d, qf.device)
        elif not workspace.fits(pl.programs, pl.splits, pl.block_m, d):
            raise AttentionLaunchError(f"workspace too small for {pl.programs} row blocks × {pl.splits} key slices")
        ws = (workspace.acc, workspace.ml, workspace.counters)
    else:
        ws = (out, out, out)  # unused
    _pi0_attention_kernel[(pl.row_blocks, b * kv, pl.splits)](
        q3, k3, v3, bias, out, *ws, tq, tk, kv, pl.keys, scale,
        q3.stride(0), q3.stride(1), k3.stride(0), k3.stride(1), v3.stride(0), v3.stride(1),
        bias_b, bias.stride(2), bias.stride(3), out.stride(0), out.stride(1),
        D=d, BLOCK_M=pl.block_m, BLOCK_N=pl.block_n, SPLITS=pl.splits, UPCAST=qf.device.type == "cpu",
        num_warps=pl.warps, num_stages=pl.stages)
    return out.view(b, kv, tq, d)


def _interpreting() -> bool:
    import os

    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@torch.library.custom_op("roboos::pi0_attention", mutates_args=())
def _attention_op(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                  scale: float) -> torch.Tensor:
    """The compiled-graph entry of :func:`fused_attention`."""
    return _launch(qf, k, v, bias, scale)


@_attention_op.register_fake
def _attention_fake(qf: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                    scale: float) -> torch.Tensor:
    return qf.new_empty(qf.shape)
