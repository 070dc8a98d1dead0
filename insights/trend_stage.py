"""From theme assignments to alerts: feed the trend monitor in event-time order and keep the store current."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from insights.impact import normalise_score
from insights.lineage import unapplied_merges
from insights.records import parse_time
from insights.retry import call_with_retry
from insights.store import InsightStore
from insights.trends import Observation, TrendMonitor
from insights.trends.counts import MAX_REDIRECTS

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
        satisfaction=satisfaction(message.get("score"), message.get("score_type")),
        # messages written before the field existed: the item's category, as the monitor then took it
        theme_empathy_category=message.get("theme_empathy_category", message.get("empathy_category")),
        coarse_theme_id=message.get("coarse_theme_id"),
        coarse_theme_label=message.get("coarse_theme_label"),
    )


def satisfaction(score: Any, score_type: Any) -> float | None:
    """An item's score on 0-100 (higher is better) for telling praise from complaints. CES is left out: whether
    its high end means effort or ease depends on how the question was worded."""
    if str(score_type or "").lower() == "ces":
        return None
    return normalise_score(score, score_type)


class PartitionWatermark:
    """Event time that every active input partition has reached: the minimum of their maxima.

    Partitions are consumed at different speeds when the worker has a backlog; a watermark taken from the
    fastest one would close windows the others still fill. A partition silent for ``idle_seconds`` (wall clock)
    stops holding it back. Until each of the ``partitions`` expected has been seen, the watermark waits, but only
    ``unseen_seconds`` after the first event: the consumer fetches every assigned partition at once, so one with
    data shows up within seconds, and one still unseen is most likely empty (a deployment without reviews). Every
    open window is held in memory while the watermark waits, so waiting the full idle time would make the
    worker's memory grow with its throughput for two minutes after each start. A partition that does turn up
    later counts its older events as late.
    """

    def __init__(
        self, idle_seconds: float = 120.0, partitions: int | None = None, unseen_seconds: float = 15.0
    ) -> None:
        self.idle_seconds = idle_seconds
        self.partitions = partitions
        self.unseen_seconds = min(unseen_seconds, idle_seconds)
        self._latest: dict[Any, tuple[datetime, float]] = {}
        self._since: float | None = None  # when the first event arrived (the worker may load for a while)

    def update(self, partition: Any, event_time: datetime) -> None:
        if self._since is None:
            self._since = time.monotonic()
        known = self._latest.get(partition)
        newest = event_time if known is None or event_time > known[0] else known[0]
        self._latest[partition] = (newest, time.monotonic())

    def value(self) -> datetime | None:
        now = time.monotonic()
        waiting = self.partitions is not None and len(self._latest) < self.partitions
        if self._since is None or (waiting and now - self._since <= self.unseen_seconds):
            return None  # a partition not heard from yet may still bring older events
        active = [t for t, seen in self._latest.values() if now - seen <= self.idle_seconds]
        return min(active) if active else None


class TrendStage:
    """Observes assignments in event-time order and turns closed windows into alert messages.

    Counting (``observe``) and storing are separate steps: in the stream, counting must run on the event loop
    (its state is a faust table whose changelog follows the current event), while the database write runs in
    a worker thread.
    """

    def __init__(
        self, store: InsightStore | None, monitor: TrendMonitor, idle_seconds: float = 120.0,
        partitions: int | None = None,
    ) -> None:
        """``partitions``: how many input partitions (over all input topics) feed the stage (None: whatever
        arrives, e.g. a replay)."""
        self.store = store
        self.monitor = monitor
        self.watermark = PartitionWatermark(idle_seconds, partitions)

    def observe(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Count a batch of cx.theme-assignments messages; returns the alerts of windows it closed."""
        # Only first-hand assignments are counted: a discovery round that places hundreds of earlier outliers at
        # once would otherwise look like a sudden rise of the themes it placed them in. (The store still gets
        # the re-assignment, so the feedback rows and their theme are current.)
        firsthand = [m for m in messages if int(m.get("revision") or 0) == 0]
        observations = sorted((observation_from_assignment(m) for m in firsthand), key=lambda o: o.event_time)
        alerts = []
        for obs in observations:
            alerts.extend(self.monitor.observe(obs, advance=False))
        for m in firsthand:
            source = (m.get("source_topic"), m.get("source_partition"))
            self.watermark.update(source, parse_time(m["event_time"]))
        mark = self.watermark.value()
        if mark is not None:
            alerts.extend(self.monitor.advance(mark))
        return [a.to_message() for a in alerts]

    def follow_merges(self, merged: Sequence[tuple[str, str]]) -> None:
        """Count each merged theme as the one that absorbed it (``insights.lineage.merges`` of cx.themes events)."""
        for absorbed, survivor in merged:
            self.monitor.merge_theme(absorbed, survivor)
        if merged:
            log.info("trends: %d merged themes now counted as the themes that absorbed them", len(merged))

    def follow_registry(self, known: Mapping[str, str]) -> int:
        """Apply the merges a theme registry knows (``known``: its redirects, absorbed -> survivor, in the order they
        happened) that the counts do not follow yet; returns how many.

        Why not only the merges handed over as they are learnt: the counts live in a changelog-backed table, and a
        rebalance that moves them to another worker between a merge and the next flush restores them without it.
        That worker's registry, read from cx.themes, still knows every merge. Cheap when nothing is new: one
        dictionary lookup per merge, and at most ``MAX_REDIRECTS`` of the newest merges are considered, as many
        as the counts remember.
        """
        recent = dict(list(known.items())[-MAX_REDIRECTS:])
        pending = unapplied_merges(recent, self.monitor.counts.redirects())
        self.follow_merges(pending)
        return len(pending)

    def flush(self) -> list[dict[str, Any]]:
        """End of a finite input (a replay): test the windows still open."""
        return [a.to_message() for a in self.monitor.flush()]

    def pop_window_counts(self) -> list[dict[str, Any]]:
        """Window-count rows changed since the last call (absolute counts, so rewriting them is safe)."""
        return self.monitor.pop_window_counts()

    def store_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        if self.store is not None and alerts:
            call_with_retry(self.store.upsert_alerts, alerts)

    def store_window_counts(self, rows: Sequence[dict[str, Any]]) -> None:
        if self.store is not None and rows:
            call_with_retry(self.store.upsert_window_counts, rows)

    def persist(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Store alerts and the window counts changed since the last call (one thread: replays, tests)."""
        self.store_alerts(alerts)
        self.store_window_counts(self.pop_window_counts())
