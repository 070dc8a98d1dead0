"""Fill a store with realistic simulated data, without embedding: for tests, screenshots, reports and benchmarks.

The simulator's true theme stands in for the assignment (theme_id = its key, label and empathy category from the
simulator), the real :class:`~insights.trends.TrendMonitor` counts windows and raises alerts (a rise of rude
complaints for one agent is injected), and theme lineage gets a birth per theme plus a rename and a merge, so
every read of the API has something to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from insights.simulator import THEMES, FeedbackSimulator, Injection, SimulatedFeedback
from insights.store.repository import InsightStore
from insights.trends import Observation, TrendMonitor

RISE_AGENT = "a-03"
MERGED_THEME = "slow_reply"


@dataclass
class Sample:
    feedback: list[dict[str, Any]] = field(default_factory=list)
    theme_events: list[dict[str, Any]] = field(default_factory=list)
    window_counts: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


def feedback_row_of(item: SimulatedFeedback) -> dict[str, Any]:
    """The store row of a simulated item, assigned to its true theme."""
    m = item.message
    survey = item.kind == "survey"
    score = m.get("score") if survey else m.get("rating")
    return {
        "feedback_id": item.feedback_id,
        "kind": item.kind,
        "text": item.text,
        "event_time": item.event_time,
        "score": None if score is None else float(score),
        "score_type": m.get("survey_type") if survey else "rating",
        "agent_id": m.get("agent_id"),
        "team": m.get("team"),
        "journey_stage": m.get("journey_stage"),
        "channel": m.get("channel") or m.get("source"),
        "customer_id": m.get("customer_id"),
        "ticket_id": m.get("ticket_id"),
        "source": m.get("source"),
        "product": m.get("product"),
        "language": m.get("language"),
        "truncated": False,
        "extra_dimensions": {},
        "theme_id": item.truth,
        "coarse_theme_id": None,
        "empathy_category": item.empathy_category,
        "similarity": 0.9,
    }


def _theme_events(start: datetime, quotes: dict[str, list[str]], sizes: dict[str, int]) -> list[dict[str, Any]]:
    events = []

    def event(event_id: str, event_type: str, theme_id: str, at: datetime, theme: dict[str, Any], **extra) -> None:
        events.append({"schema_version": 1, "event_id": event_id, "event_type": event_type, "theme_id": theme_id,
                       "at": at.isoformat(), "theme": {"theme_id": theme_id, **theme}, **extra})

    for spec in THEMES:
        words = sorted({w.strip(".,!'").lower() for w in spec.label.replace("/", " ").split() if len(w) > 2})
        theme = {"label": spec.label, "keywords": words[:8], "quotes": quotes.get(spec.key, [])[:3],
                 "size": sizes.get(spec.key, 0), "empathy_category": spec.empathy, "level": "fine",
                 "status": "active", "created_at": start.isoformat(), "updated_at": start.isoformat()}
        event(f"ev-birth-{spec.key}", "birth", spec.key, start, theme)
    # lineage worth showing: a theme born early, then merged into "long wait time"; a rename
    later = start + timedelta(hours=6)
    old = {"label": "slow replies", "keywords": ["slow", "reply"], "quotes": [], "size": 0, "empathy_category": None,
           "level": "fine", "created_at": start.isoformat()}
    event(f"ev-birth-{MERGED_THEME}", "birth", MERGED_THEME, start, {**old, "status": "active"})
    event(f"ev-merge-{MERGED_THEME}", "merge", MERGED_THEME, later, {**old, "status": "merged"},
          related_theme_ids=["wait_time"], reason="centroid within 0.12 of wait_time")
    wait = next(s for s in THEMES if s.key == "wait_time")
    event("ev-rename-wait_time", "rename", "wait_time", later,
          {"label": wait.label, "keywords": ["wait", "hold", "queue"], "quotes": quotes.get("wait_time", [])[:3],
           "size": sizes.get("wait_time", 0), "level": "fine", "status": "active"},
          related_theme_ids=[MERGED_THEME], reason="absorbed slow replies")
    return events


@lru_cache(maxsize=8)
def build_sample(windows: int = 30, items_per_window: int = 150, seed: int = 7,
                 start: datetime = datetime(2026, 3, 1, tzinfo=UTC), rise_from: int = 12) -> Sample:
    """Simulated feedback over ``windows`` hours with a rise of rude complaints for agent a-03 from ``rise_from``."""
    window = timedelta(hours=1)
    rise = start + rise_from * window
    sim = FeedbackSimulator(
        seed=seed, start=start, items_per_window=items_per_window, window=window,
        injections=[Injection(theme="rude", multiplier=6.0, start=rise, dimensions={"agent_id": RISE_AGENT})],
    )
    end = start + windows * window
    items = [i for i in sim.until(end) if i.event_time < end]
    monitor = TrendMonitor(window="1h", grace="0s", min_volume=20, cooldown_windows=3, p_value=0.001)
    alerts = []
    quotes: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for item in items:
        sizes[item.truth] = sizes.get(item.truth, 0) + 1
        if len(quotes.setdefault(item.truth, [])) < 3 and len(item.text) > 25:
            quotes[item.truth].append(item.text)
        obs = Observation(item.feedback_id, item.event_time, item.truth, item.theme_label, item.empathy_category,
                          item.dimensions, item.text, theme_empathy_category=item.empathy_category)
        alerts.extend(monitor.observe(obs))
    alerts.extend(monitor.flush())
    return Sample(
        feedback=[feedback_row_of(i) for i in items],
        theme_events=_theme_events(start, quotes, sizes),
        window_counts=monitor.pop_window_counts(),
        alerts=[a.to_message() for a in alerts],
        start=start,
        end=end,
    )


def load_sample(store: InsightStore, sample: Sample | None = None) -> Sample:
    """Write a sample (default: :func:`build_sample`) into the store; idempotent like every write."""
    sample = sample or build_sample()
    store.upsert_feedback(sample.feedback)
    store.apply_theme_events(sample.theme_events)
    store.upsert_window_counts(sample.window_counts)
    store.upsert_alerts(sample.alerts)
    return sample
