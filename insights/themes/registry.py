"""The theme registry: stable ids, lineage events, and the replay of those events on followers.

Ids are never reused: a counter per level ("t0001" fine, "c0001" coarse) that only grows, and that a follower
advances past every id it sees. Every change to a theme goes through :meth:`ThemeRegistry.emit`, so the
events on cx.themes are the complete history and a follower that applies them holds the same themes.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from typing import Any

import numpy as np

from insights.lineage import survivor
from insights.themes.types import EventType, Level, Theme, ThemeEvent, now_iso

PREFIX: dict[str, str] = {"fine": "t", "coarse": "c"}
MAX_INACTIVE = 1000


class ThemeRegistry:
    """Active themes by id, recently inactive ones (bounded), redirects of merged ids, pending events."""

    def __init__(self) -> None:
        self.themes: dict[str, Theme] = {}
        self.inactive: deque[Theme] = deque(maxlen=MAX_INACTIVE)
        self.redirect: dict[str, str] = {}
        self.next_number: dict[str, int] = {"fine": 1, "coarse": 1}
        self.events: list[ThemeEvent] = []
        self.extra: dict[str, Any] = {}  # model-wide values published with every event (e.g. thresholds)
        self._matrix: tuple[list[str], np.ndarray] | None = None

    # -- ids ------------------------------------------------------------------------------------------------
    def new_id(self, level: Level) -> str:
        number = self.next_number[level]
        self.next_number[level] = number + 1
        return f"{PREFIX[level]}{number:04d}"

    def _advance_past(self, theme_id: str) -> None:
        m = re.fullmatch(r"([a-z])(\d+)", theme_id)
        if not m:
            return
        for level, prefix in PREFIX.items():
            if prefix == m.group(1):
                self.next_number[level] = max(self.next_number[level], int(m.group(2)) + 1)

    def resolve(self, theme_id: str | None) -> str | None:
        """Follow merge redirects to the surviving theme."""
        return survivor(self.redirect, theme_id) if theme_id is not None else None

    # -- reads ----------------------------------------------------------------------------------------------
    def active(self, level: Level = "fine") -> list[Theme]:
        return [t for t in self.themes.values() if t.level == level and t.status == "active"]

    def get(self, theme_id: str | None) -> Theme | None:
        return self.themes.get(theme_id) if theme_id else None

    def centroid_matrix(self) -> tuple[list[str], np.ndarray]:
        """Ids and stacked unit centroids of the active fine themes (cached until a theme changes)."""
        if self._matrix is None:
            active = self.active("fine")
            ids = [t.theme_id for t in active]
            matrix = np.stack([t.centroid for t in active]).astype(np.float32) if active else np.zeros((0, 0))
            self._matrix = (ids, matrix)
        return self._matrix

    def invalidate(self) -> None:
        self._matrix = None

    # -- writes ---------------------------------------------------------------------------------------------
    def add(self, theme: Theme) -> None:
        self.themes[theme.theme_id] = theme
        self._advance_past(theme.theme_id)
        self.invalidate()

    def emit(
        self,
        theme: Theme,
        event_type: EventType,
        related: list[str] | None = None,
        reason: str | None = None,
    ) -> ThemeEvent:
        """Record a change of ``theme`` (already applied) as a lineage event with a snapshot."""
        theme.updated_at = now_iso()
        snapshot = _copy(theme)
        event = ThemeEvent(
            event_id=uuid.uuid4().hex,
            theme_id=theme.theme_id,
            event_type=event_type,
            theme=snapshot,
            related_theme_ids=list(related or []),
            reason=reason,
            extra=dict(self.extra),
        )
        self.events.append(event)
        if theme.status != "active":
            self.deactivate(theme.theme_id)
        self.invalidate()
        return event

    def deactivate(self, theme_id: str) -> None:
        theme = self.themes.pop(theme_id, None)
        if theme is not None:
            self.inactive.append(theme)
        self.invalidate()

    def pop_events(self) -> list[ThemeEvent]:
        events, self.events = self.events, []
        return events

    def apply_message(self, message: dict[str, Any]) -> Theme:
        """Apply one cx.themes message (a follower rebuilding the registry); idempotent."""
        event = ThemeEvent.from_message(message)
        theme = event.theme
        self._advance_past(theme.theme_id)
        for key in ("assign_threshold",):
            if key in message:
                self.extra[key] = message[key]
        if theme.status == "active":
            self.themes[theme.theme_id] = theme
            self.redirect.pop(theme.theme_id, None)
        else:
            self.themes.pop(theme.theme_id, None)
            self.inactive.append(theme)
            if theme.status == "merged" and event.related_theme_ids:
                self.redirect[theme.theme_id] = event.related_theme_ids[0]
        self.invalidate()
        return theme


def _copy(theme: Theme) -> Theme:
    """A snapshot that later changes to the live theme do not alter."""
    t = Theme.from_dict(theme.to_dict(with_centroid=False))
    t.centroid = np.array(theme.centroid, dtype=np.float32, copy=True)
    return t
