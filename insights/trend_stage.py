"""From theme assignments to alerts: feed the trend monitor in event-time order and keep the store current."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from insights.records import parse_time
from insights.store import InsightStore
from insights.trends import Observation, TrendMonitor

log = logging.getLogger(__name__)


def observation_from_assignment(message: dict[str, Any]) -> Observation:
    """A cx.theme-assignments message as the trend monitor sees it."""
    return Observation(
        feedback_id=message["feedback_id"],
        event_time=parse_time(message["event_time"]),
        theme_id=message.get("theme_id"),
        theme_label=message.get("theme_label"),
        empathy_category=message.get("empathy_category"),
        dimensions=dict(message.get("dimensions") or {}),
        text=message.get("text") or "",
        previous_theme_id=message.get("previous_theme_id"),
        revision=int(message.get("revision") or 0),
    )


class TrendStage:
    """Observes assignments, advances the event-time watermark, stores and returns new alerts."""

    def __init__(self, store: InsightStore | None, monitor: TrendMonitor) -> None:
        self.store = store
        self.monitor = monitor

    def observe(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        observations = sorted((observation_from_assignment(m) for m in messages), key=lambda o: o.event_time)
        alerts = []
        for obs in observations:
            alerts.extend(self.monitor.observe(obs))
        if observations:
            alerts.extend(self.monitor.advance(observations[-1].event_time))
        return self._publishable(alerts)

    def flush(self) -> list[dict[str, Any]]:
        """End of a finite input (a replay): test the windows still open."""
        return self._publishable(self.monitor.flush())

    def _publishable(self, alerts: Sequence[Any]) -> list[dict[str, Any]]:
        messages = [a.to_message() for a in alerts]
        if self.store is not None:
            if messages:
                self.store.upsert_alerts(messages)
            rows = self.monitor.pop_window_counts()
            if rows:
                self.store.upsert_window_counts(rows)
        return messages
