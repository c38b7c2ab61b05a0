"""ChunkBlender: latest-only and weighted-average blending of overlapping chunks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from roboos.edge.chunks import ChunkBlender


def test_latest_only_switches_to_the_newest_chunk():
    b = ChunkBlender("latest")
    b.add(0, np.zeros((10, 2)))
    b.add(4, np.ones((10, 2)))
    assert b.action(3).tolist() == [0, 0]
    assert b.action(4).tolist() == [1, 1]
    assert b.action(13).tolist() == [1, 1]
    assert b.action(14) is None and b.remaining(14) == 0


def test_weighted_average_prefers_newer_chunks():
    b = ChunkBlender("average", newer_weight=1.0)
    b.add(0, np.zeros((10, 1)))
    b.add(4, np.ones((10, 1)))
    w_old, w_new = math.exp(-1.0), 1.0
    assert b.action(5)[0] == pytest.approx(w_new / (w_old + w_new))
    assert b.action(2)[0] == 0.0  # only the first chunk covers tick 2
    b.add(6, np.full((10, 1), 2.0))
    expected = (0 * math.exp(-2) + 1 * math.exp(-1) + 2) / (math.exp(-2) + math.exp(-1) + 1)
    assert b.action(7)[0] == pytest.approx(expected)
    assert b.remaining(7) == 9


def test_indexes_by_tick_offset_and_validates():
    b = ChunkBlender("latest")
    b.add(5, np.arange(8, dtype=float)[:, None])
    assert b.action(4) is None
    assert b.action(7)[0] == 2.0
    with pytest.raises(ValueError, match="chunk"):
        b.add(0, np.zeros((0, 1)))
    with pytest.raises(ValueError, match="width"):
        b.add(0, np.zeros((3, 2)))
