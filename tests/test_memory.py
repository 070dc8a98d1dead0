"""trim_heap gives a hole in the heap back to the OS (the worker calls it every 30 s; see insights/memory.py)."""

from __future__ import annotations

import os
import sys

import pytest

from insights.memory import trim_heap


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc are Linux-only")
def test_trim_heap_returns_a_freed_hole_to_the_os():
    trim_heap()
    hole = [bytes(1000) + bytes([i % 256]) for i in range(100_000)]  # about 100 MB from malloc, not pymalloc
    pin = [bytes(1000) + b"pin" for _ in range(100)]  # allocated above the hole: free() alone cannot shrink the heap
    before = _rss_mb()
    del hole
    after_free = _rss_mb()
    assert trim_heap()
    after_trim = _rss_mb()
    assert pin
    assert after_trim < after_free - 50, (before, after_free, after_trim)
