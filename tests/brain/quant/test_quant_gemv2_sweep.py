"""The M = 1 sweep's candidate sets (the sweep itself needs a GPU; its kernels run under the interpreter in
test_quant_kernels_interp.py)."""

from __future__ import annotations

import pytest

from roboos.brain.quant.bench_gemv2 import main, sweep_candidates
from roboos.brain.quant.bench_kernels import SHAPES_7B
from roboos.brain.quant.configs import KernelConfig


@pytest.mark.parametrize("name", sorted(SHAPES_7B))
def test_candidates_valid_and_unique(name):
    n, k = SHAPES_7B[name]
    cands = sweep_candidates(n, k)
    assert len(cands) == len(set(cands)) > 20
    assert all(isinstance(c, KernelConfig) and c.kind in ("gemv", "gemv_persistent") for c in cands)
    assert any(c.kind == "gemv_persistent" for c in cands)
    for c in cands:  # gemv steps over K are even (unmasked) or cover K in one step
        assert c.kind == "gemv_persistent" or k % c.block_k == 0 or c.block_k >= k
        assert KernelConfig.from_dict(c.to_dict()) == c


def test_dry_run_lists_every_shape(capsys):
    main(["--dry-run"])
    out = capsys.readouterr().out
    assert all(name in out for name in SHAPES_7B)


@pytest.mark.parametrize("name", sorted(SHAPES_7B))
def test_pdl_candidates(name):
    from roboos.brain.quant.bench_gemv2 import pdl_candidates

    cands = pdl_candidates(*SHAPES_7B[name])
    assert cands and len(cands) == len(set(cands))
    assert all(c.kind == "gemv_pdl" and c.split_k == 1 for c in cands)
