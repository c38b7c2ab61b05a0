"""The cloud process moves its startup objects out of the cyclic GC's way (``freeze_startup_objects``)."""

from __future__ import annotations

import gc

from roboos.gc_freeze import freeze_startup_objects


def test_freeze_startup_objects_moves_live_objects_to_the_permanent_generation() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the cyclic GC could collect it

    keep = Node()
    try:
        frozen = freeze_startup_objects()
        assert frozen > 0
        assert 0 < gc.get_freeze_count() <= frozen  # frozen objects can still die by reference counting
        assert gc.get_count()[0] < gc.get_threshold()[0]  # the collection before the freeze emptied gen 0
        assert keep.me is keep
    finally:
        gc.unfreeze()  # back to the test process's usual GC
    assert gc.get_freeze_count() == 0
