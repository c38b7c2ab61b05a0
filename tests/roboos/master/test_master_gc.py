"""The cloud process moves its startup objects out of the cyclic GC's way (``freeze_startup_objects``)."""

from __future__ import annotations

import gc

from roboos.master.launch import freeze_startup_objects


def test_freeze_startup_objects_moves_live_objects_to_the_permanent_generation() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the cyclic GC could collect it

    keep = Node()
    try:
        frozen = freeze_startup_objects()
        assert frozen == gc.get_freeze_count() > 0
        assert gc.get_count()[0] < 50  # the collection before the freeze emptied the young generation
        assert keep.me is keep
    finally:
        gc.unfreeze()  # back to the test process's usual GC
    assert gc.get_freeze_count() == 0
