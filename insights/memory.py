"""Hand freed heap memory back to the operating system.

A worker's live Python memory stays flat under sustained load (measured: glibc's in-use heap 302 → 296 MB over
three minutes), but its RSS kept rising by a few MB a minute: the free part of the heap grew (63 → 94 MB) as
batches of different sizes left holes that glibc does not return on its own. ``malloc_trim`` releases them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None on another C library (musl, macOS), where there is nothing to do."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        log.debug("no malloc_trim in this C library: freed heap memory stays with the process")
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def trim_heap() -> bool:
    """Return the heap's free pages to the OS; True when any were released."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
