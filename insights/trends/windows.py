"""Tumbling event-time windows aligned to the Unix epoch, so every worker and every replay agrees on them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from insights.trends.duration import parse_duration


def to_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; naive ones are refused because event time must be unambiguous."""
    if moment.tzinfo is None:
        raise ValueError(f"event time {moment!r} has no time zone")
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z', the form every message of this service uses."""
    return to_utc(moment).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class WindowClock:
    """Maps event times to window indices (``floor(epoch seconds / length)``) and says when one may close.

    A window ``[start, end)`` stays open until the watermark reaches ``end + grace``: late events within the
    grace period still count in their own window, later ones are dropped (and counted as late).
    """

    length: timedelta
    grace: timedelta

    @classmethod
    def of(cls, window: str | timedelta, grace: str | timedelta) -> WindowClock:
        length = parse_duration(window)
        if length <= timedelta(0):
            raise ValueError("the window length must be positive")
        return cls(length, parse_duration(grace))

    @property
    def seconds(self) -> float:
        return self.length.total_seconds()

    def index(self, moment: datetime) -> int:
        return math.floor(to_utc(moment).timestamp() / self.seconds)

    def start(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self.seconds, tz=UTC)

    def end(self, index: int) -> datetime:
        return datetime.fromtimestamp((index + 1) * self.seconds, tz=UTC)

    def closes_at(self, index: int) -> float:
        """Watermark (epoch seconds) at which the window is final."""
        return (index + 1) * self.seconds + self.grace.total_seconds()

    def is_closed(self, index: int, watermark: float | None) -> bool:
        return watermark is not None and watermark >= self.closes_at(index)
