"""The values the theme model hands to the rest of the system: themes, lineage events and predictions.

They are plain dataclasses with explicit JSON forms, because they travel on Kafka (cx.themes) and into the
store; nothing here knows about clustering.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

EventType = Literal["birth", "update", "merge", "split", "rename", "retire"]
Level = Literal["fine", "coarse"]
Status = Literal["active", "merged", "retired"]
EVENT_TYPES: tuple[str, ...] = ("birth", "update", "merge", "split", "rename", "retire")


def now_iso() -> str:
    """UTC now in ISO 8601 (the timestamps of themes and events)."""
    return datetime.now(UTC).isoformat()


def encode_array(a: np.ndarray) -> str:
    """float32 array -> base64 text: compact and JSON-able for model state."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.float32).tobytes()).decode("ascii")


def decode_array(s: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    a = np.frombuffer(base64.b64decode(s), dtype=np.float32).copy()
    return a.reshape(shape) if shape is not None else a


@dataclass
class Theme:
    """A theme as analysts and dashboards see it. ``centroid`` is unit length."""

    theme_id: str
    label: str = ""
    keywords: list[str] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    centroid: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32), repr=False)
    size: int = 0
    empathy_category: str | None = None
    level: Level = "fine"
    parent_id: str | None = None
    status: Status = "active"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def to_dict(self, with_centroid: bool = True) -> dict[str, Any]:
        """The ``theme`` object of a cx.themes message (schemas/theme_event.v1.json)."""
        d: dict[str, Any] = {
            "theme_id": self.theme_id,
            "label": self.label,
            "keywords": list(self.keywords),
            "quotes": list(self.quotes)[:5],
            "size": int(self.size),
            "empathy_category": self.empathy_category,
            "level": self.level,
            "parent_id": self.parent_id,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if with_centroid:
            d["centroid"] = [round(float(v), 6) for v in np.asarray(self.centroid).ravel()]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Theme:
        centroid = np.asarray(d.get("centroid") or [], dtype=np.float32)
        return cls(
            theme_id=d["theme_id"],
            label=d.get("label") or d["theme_id"],
            keywords=list(d.get("keywords") or []),
            quotes=list(d.get("quotes") or []),
            centroid=centroid,
            size=int(d.get("size") or 0),
            empathy_category=d.get("empathy_category"),
            level=d.get("level") or "fine",
            parent_id=d.get("parent_id"),
            status=d.get("status") or "active",
            created_at=d.get("created_at") or now_iso(),
            updated_at=d.get("updated_at") or now_iso(),
        )


@dataclass
class ThemeEvent:
    """One lineage event with a snapshot of the theme after it (the compacted topic keeps the latest)."""

    event_id: str
    theme_id: str
    event_type: EventType
    theme: Theme
    related_theme_ids: list[str] = field(default_factory=list)
    at: str = field(default_factory=now_iso)
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        """The cx.themes message (key: theme_id); ``extra`` carries model-wide values such as the threshold."""
        return {
            **self.extra,
            "schema_version": 1,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "theme_id": self.theme_id,
            "related_theme_ids": list(self.related_theme_ids),
            "at": self.at,
            "reason": self.reason,
            "theme": self.theme.to_dict(),
        }

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> ThemeEvent:
        return cls(
            event_id=m["event_id"],
            theme_id=m["theme_id"],
            event_type=m["event_type"],
            theme=Theme.from_dict(m["theme"]),
            related_theme_ids=list(m.get("related_theme_ids") or []),
            at=m.get("at") or now_iso(),
            reason=m.get("reason"),
        )


@dataclass(frozen=True, slots=True)
class ThemePrediction:
    """Where one feedback item belongs. ``theme_id`` is None when no theme is close enough (unassigned)."""

    theme_id: str | None
    theme_label: str | None
    empathy_category: str | None
    similarity: float
    coarse_theme_id: str | None = None
    coarse_theme_label: str | None = None
    empathy_score: float = 0.0
    # the theme's own category (None: not an empathy theme); ``empathy_category`` is the item's, which may differ
    theme_empathy_category: str | None = None

    @property
    def assigned(self) -> bool:
        return self.theme_id is not None
