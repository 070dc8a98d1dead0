"""Checks on numpy memory shared by tests."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def bytes_held(arrays: Iterable[np.ndarray]) -> int:
    """Memory the arrays keep alive: a view counts its whole base array (once)."""
    bases = {}
    for a in arrays:
        base = a if a.base is None else a.base
        bases[id(base)] = base.nbytes
    return sum(bases.values())
