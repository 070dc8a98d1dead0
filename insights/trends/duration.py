"""Durations as people write them in settings and flags ("15m", "1h", "1d", "1h30m")."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse "90s", "15m", "1h", "1d", "2w" or "1h30m" (or seconds, or a timedelta) into a timedelta.

    Raises ValueError with the accepted forms, so a bad ``WINDOW=`` setting fails loudly at start-up.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = timedelta(seconds=float(value))
    else:
        text = str(value).strip().lower()
        if text in ("0", "0.0"):
            return timedelta(0)
        parts = _PART.findall(text)
        if not parts or _PART.sub("", text).strip():
            raise ValueError(f"{value!r} is not a duration; use forms such as 30s, 15m, 1h, 1d, 1w or 1h30m")
        result = timedelta(seconds=sum(float(num) * _UNITS[unit] for num, unit in parts))
    if result < timedelta(0):
        raise ValueError(f"duration {value!r} is negative")
    return result
