"""What goes into the trend monitor (an Observation) and what comes out (an Alert)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EMPATHY_THEME_ID = "__empathy__"
# every item with an empathy category: all of an empathy theme's items, and flagged items in other themes (a rude
# remark inside a delivery complaint); items take their theme's category when their own text names none
EMPATHY_LABEL = "empathy complaints (all themes)"
EMPATHY_CATEGORY_ALL = "all"
CATEGORY_PREFIX = EMPATHY_THEME_ID + ":"


def category_theme_id(category: str) -> str:
    """The pseudo-theme counting every item of one empathy category, whatever theme it is in."""
    return CATEGORY_PREFIX + category


def category_label(category: str) -> str:
    """What people read for a category pseudo-theme, in alerts, the API and the dashboard."""
    return f"{category.replace('_', ' ')} complaints (all themes)"


def category_of(theme_id: str) -> str | None:
    """The empathy category of a category pseudo-theme id, else None."""
    return theme_id[len(CATEGORY_PREFIX) :] if theme_id.startswith(CATEGORY_PREFIX) else None


_ALERT_NAMESPACE = uuid.UUID("6f1d3c57-3a8e-4d1b-9c55-2f0a8f7c1e42")


@dataclass(frozen=True, slots=True)
class Observation:
    """One feedback item's theme assignment, as the trend monitor counts it.

    ``previous_theme_id`` and ``revision`` describe a re-assignment (e.g. unassigned -> a newly discovered
    theme): the monitor keeps its own record of what it counted per feedback id, so a re-assignment moves the
    count and a re-delivery of the same assignment is a no-op; a lower ``revision`` than the one counted is
    ignored (an out-of-date assignment).
    """

    feedback_id: str
    event_time: datetime
    theme_id: str | None
    theme_label: str | None
    empathy_category: str | None
    dimensions: dict[str, str]
    text: str
    previous_theme_id: str | None = None
    revision: int = 0
    satisfaction: float | None = None  # the item's score on 0-100, higher is better (None: no usable score)
    theme_empathy_category: str | None = None  # the theme's own (None: not an empathy theme); alerts report it
    coarse_theme_id: str | None = None  # the group of themes the theme belongs to (its trend is its members' sum)
    coarse_theme_label: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A significant rise of one theme's rate in one slice, with the evidence a CX lead needs to act."""

    alert_id: str
    theme_id: str
    theme_label: str | None
    empathy_category: str | None
    dimensions: dict[str, str]
    window_start: str
    window_end: str
    span_start: str
    observed: int
    expected: float
    ratio: float
    p_value: float
    z: float
    severity: str
    denominator: int
    baseline_rate: float
    observed_rate: float
    windows: int
    window_length: str
    aggregate: bool
    quotes: list[str] = field(default_factory=list)
    explanation: str = ""

    @staticmethod
    def make_id(slice_key: str, theme_id: str, window_end: str) -> str:
        """Deterministic from slice, theme and window: a replay or a restart yields the same id."""
        return str(uuid.uuid5(_ALERT_NAMESPACE, f"{slice_key}\x1f{theme_id}\x1f{window_end}"))

    def to_message(self) -> dict[str, Any]:
        """The cx.alerts message (schemas/alert.v1.json)."""
        return {
            "schema_version": 1,
            "alert_id": self.alert_id,
            "theme_id": self.theme_id,
            "theme_label": self.theme_label,
            "empathy_category": self.empathy_category,
            "aggregate": self.aggregate,
            "dimensions": dict(self.dimensions),
            "window_start": self.window_start,
            "window_end": self.window_end,
            "span_start": self.span_start,
            "windows": self.windows,
            "window_length": self.window_length,
            "observed": self.observed,
            "expected": round(self.expected, 4),
            "ratio": round(self.ratio, 4),
            "p_value": self.p_value,
            "z": round(self.z, 4),
            "severity": self.severity,
            "denominator": self.denominator,
            "observed_rate": round(self.observed_rate, 6),
            "baseline_rate": round(self.baseline_rate, 6),
            "quotes": list(self.quotes[:3]),
            "explanation": self.explanation,
        }
