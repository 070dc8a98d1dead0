"""The store on SQLite and PostgreSQL: idempotent upserts, assignment updates, theme lineage, alerts."""

from __future__ import annotations

from datetime import UTC, datetime

from insights.pipeline import feedback_row
from insights.records import parse_feedback
from insights.store import AlertRecord, FeedbackRecord, InsightStore, ThemeEventRecord
from tests.messages import encode, survey, theme_event


class _Pred:
    def __init__(self, theme_id: str | None, coarse_theme_id: str | None = None) -> None:
        self.theme_id = theme_id
        self.theme_label = "rude agent" if theme_id else None
        self.empathy_category = "rude" if theme_id else None
        self.similarity = 0.8
        self.coarse_theme_id = coarse_theme_id


def test_feedback_upsert_is_idempotent(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    rows = [feedback_row(parse_feedback("survey", encode(survey(i))), _Pred(None)) for i in range(30)]
    store.upsert_feedback(rows)
    store.upsert_feedback(rows + rows[:5])  # a replay, with duplicates inside one batch
    assert store.count(FeedbackRecord) == 30
    changed = store.update_assignments([
        {"feedback_id": "s-3", "theme_id": "t0", "empathy_category": None},
        {"feedback_id": "s-4", "theme_id": "t2", "empathy_category": None},
        {"feedback_id": "not-stored", "theme_id": "t2", "empathy_category": None},
        {"feedback_id": "s-3", "theme_id": "t1", "empathy_category": "rude"},  # the later update wins
    ])
    assert changed == 2
    assert store.get_feedback("s-4").theme_id == "t2"
    row = store.get_feedback("s-3")
    assert row is not None and row.theme_id == "t1" and row.empathy_category == "rude"
    assert row.event_time.replace(tzinfo=row.event_time.tzinfo or UTC) == datetime(2026, 3, 2, 9, 3, tzinfo=UTC)


def test_theme_events_and_alerts_are_stored_once(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    event = {
        "schema_version": 1,
        "event_id": "e1",
        "event_type": "birth",
        "theme_id": "t1",
        "at": "2026-03-02T10:00:00+00:00",
        "theme": {"theme_id": "t1", "label": "rude agent", "keywords": ["rude"], "quotes": ["so rude"],
                  "size": 12, "level": "fine", "status": "active", "empathy_category": "rude"},
    }
    renamed = {**event, "event_id": "e2", "event_type": "rename", "theme": {**event["theme"], "label": "rude staff"}}
    store.apply_theme_events([event])
    store.apply_theme_events([event, renamed])
    themes = store.themes()
    assert [t.label for t in themes] == ["rude staff"]
    assert store.count(ThemeEventRecord) == 2
    alert = {
        "alert_id": "a1", "theme_id": "t1", "theme_label": "rude agent", "empathy_category": "rude",
        "dimensions": {"agent_id": "a-1"}, "window_start": "2026-03-02T10:00:00+00:00",
        "window_end": "2026-03-02T11:00:00+00:00", "observed": 12, "expected": 3.0, "ratio": 4.0,
        "p_value": 1e-5, "z": 5.1, "severity": "high", "quotes": ["so rude"],
    }
    store.upsert_alerts([alert])
    store.upsert_alerts([alert])
    assert store.count(AlertRecord) == 1
    assert store.alerts()[0].payload["dimensions"] == {"agent_id": "a-1"}


def test_a_merged_themes_feedback_moves_to_the_theme_that_absorbed_it(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    themes = ["t-a", "t-a", "t-a", "t-b", "t-c", None]
    store.upsert_feedback([feedback_row(parse_feedback("survey", encode(survey(i))), _Pred(t))
                           for i, t in enumerate(themes)])
    event = theme_event
    store.apply_theme_events([event(t, "birth", "active") for t in ("t-a", "t-b", "t-c", "t-d")])
    store.apply_theme_events([event("t-a", "merge", "merged", ["t-b"]), event("t-c", "retire", "retired")])
    assert [store.get_feedback(f"s-{i}").theme_id for i in range(6)] == ["t-b"] * 4 + ["t-c", None]
    store.apply_theme_events([event("t-b", "merge", "merged", ["t-d"])])  # a chain ends in the last survivor
    assert [store.get_feedback(f"s-{i}").theme_id for i in range(6)] == ["t-d"] * 4 + ["t-c", None]
    assert store.count(ThemeEventRecord) == 7, "the lineage keeps where they came from"
    # a worker a moment behind cx.themes still assigns to a merged theme: stored under the last survivor
    store.upsert_feedback([feedback_row(parse_feedback("survey", encode(survey(i))), _Pred(t))
                           for i, t in ((6, "t-a"), (7, "t-b"), (8, "t-new"))])
    assert [store.get_feedback(f"s-{i}").theme_id for i in (6, 7, 8)] == ["t-d", "t-d", "t-new"]


def test_stored_feedback_follows_its_themes_coarse_parent(database_url: str) -> None:
    """A discovery round regroups the coarse level: rows already stored, rows a lagging worker writes with the old
    parent, re-assigned rows and rows moved by a merge all end under the theme's current coarse parent."""
    store = InsightStore.from_url(database_url)

    def put(items: list[tuple[int, str | None, str | None]]) -> None:
        store.upsert_feedback([feedback_row(parse_feedback("survey", encode(survey(i))), _Pred(t, c))
                               for i, t, c in items])

    def coarse(*ids: int) -> list[str | None]:
        return [store.get_feedback(f"s-{i}").coarse_theme_id for i in ids]

    put([(0, "t-a", "c1"), (1, "t-a", "c1"), (2, "t-b", "c1"), (3, None, None)])
    store.apply_theme_events([theme_event("t-a", "birth", "active", parent_id="c1"),
                              theme_event("t-b", "birth", "active", parent_id="c1")])
    assert coarse(0, 1, 2, 3) == ["c1", "c1", "c1", None]
    store.apply_theme_events([theme_event("t-a", "update", "active", parent_id="c2", n=1)])
    assert coarse(0, 1, 2, 3) == ["c2", "c2", "c1", None]
    put([(4, "t-a", "c1"), (5, "t-new", "c9")])  # a worker behind cx.themes; a theme the store has not seen yet
    assert coarse(4, 5) == ["c2", "c9"]
    store.update_assignments([{"feedback_id": "s-3", "theme_id": "t-b", "coarse_theme_id": "c7",
                               "empathy_category": None}])
    assert coarse(3) == ["c1"]
    store.apply_theme_events([theme_event("t-a", "merge", "merged", ["t-b"], parent_id="c2", n=2)])
    assert [store.get_feedback(f"s-{i}").theme_id for i in (0, 1, 4)] == ["t-b"] * 3
    assert coarse(0, 1, 2, 3, 4) == ["c1"] * 5
