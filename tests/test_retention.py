"""Retention on SQLite and PostgreSQL: old feedback text goes, aggregates (window counts, alerts, themes) stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlmodel import Session

from insights.cli import main
from insights.pipeline import feedback_row
from insights.records import parse_feedback
from insights.retention import EXPIRED_TEXT, apply_retention, retention_cutoff
from insights.settings import Settings
from insights.store import AlertRecord, FeedbackRecord, InsightStore, ThemeEventRecord, ThemeRecord, WindowCount
from tests.messages import encode, survey

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class _Pred:
    theme_id = "t-rude"
    coarse_theme_id = None
    theme_label = "rude agent"
    empathy_category = "rude"
    similarity = 0.9


def _fill(store: InsightStore, ages_days: list[float], now: datetime = NOW) -> dict[str, float]:
    """One feedback row per age (days before ``now``) plus aggregates of the same period; returns id -> age."""
    rows, ages = [], {}
    for i, age in enumerate(ages_days):
        at = now - timedelta(days=age)
        doc = survey(i, comment=f"The agent was rude to me, call me at +44 20 7946 0{i % 1000:03d}",
                     responded_at=at.isoformat())
        row = feedback_row(parse_feedback("survey", encode(doc)), _Pred())
        rows.append(row)
        ages[row["feedback_id"]] = age
    store.upsert_feedback(rows)
    old = now - timedelta(days=max(ages_days))
    store.upsert_window_counts([
        {"window_start": old, "window_end": old + timedelta(hours=1), "theme_id": "t-rude", "dimension": "__all__",
         "value": "__all__", "count": 5, "total": 9},
        {"window_start": now - timedelta(hours=2), "window_end": now - timedelta(hours=1), "theme_id": "t-rude",
         "dimension": "agent_id", "value": "a-1", "count": 2, "total": 3},
    ])
    store.upsert_alerts([{
        "alert_id": "al-old", "theme_id": "t-rude", "theme_label": "rude agent", "empathy_category": "rude",
        "dimensions": {"agent_id": "a-1"}, "window_start": old.isoformat(),
        "window_end": (old + timedelta(hours=1)).isoformat(), "observed": 5, "expected": 1.0, "ratio": 5.0,
        "p_value": 1e-4, "z": 4.0, "severity": "high", "quotes": ["The agent was rude to me"],
    }])
    store.apply_theme_events([{
        "schema_version": 1, "event_id": "ev-1", "event_type": "birth", "theme_id": "t-rude",
        "at": old.isoformat(),
        "theme": {"theme_id": "t-rude", "label": "rude agent", "keywords": ["rude"], "quotes": ["so rude"],
                  "size": 5, "level": "fine", "status": "active", "empathy_category": "rude"},
    }])
    return ages


def _rows(store: InsightStore) -> dict[str, FeedbackRecord]:
    with Session(store.engine) as session:
        return {r.feedback_id: r for r in session.exec(select(FeedbackRecord)).scalars()}


def _aggregates(store: InsightStore) -> tuple[int, ...]:
    return tuple(store.count(m) for m in (WindowCount, AlertRecord, ThemeRecord, ThemeEventRecord))


AGES = [0.0, 0.5, 6.9, 7.1, 8, 30, 400, 29.99, 1, 2, 3, 45, 90, 10, 6.99]


def test_delete_mode_removes_only_old_feedback_and_keeps_aggregates(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    ages = _fill(store, AGES)
    aggregates = _aggregates(store)

    dry = apply_retention(store.engine, 7, now=NOW, dry_run=True)
    expired = {fid for fid, age in ages.items() if age > 7}
    assert dry.rows == len(expired) and dry.dry_run and store.count(FeedbackRecord) == len(AGES)

    result = apply_retention(store.engine, 7, now=NOW, chunk_rows=2)  # several chunks
    assert result.rows == len(expired)
    assert result.cutoff == NOW - timedelta(days=7)
    assert set(_rows(store)) == set(ages) - expired
    assert _aggregates(store) == aggregates
    assert apply_retention(store.engine, 7, now=NOW).rows == 0  # idempotent


def test_blank_mode_forgets_text_and_customer_ids_but_keeps_assignments(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    ages = _fill(store, AGES)
    aggregates = _aggregates(store)
    before = _rows(store)

    result = apply_retention(store.engine, 30, mode="blank", now=NOW, chunk_rows=3)
    expired = {fid for fid, age in ages.items() if age > 30}
    assert result.rows == len(expired)
    after = _rows(store)
    assert set(after) == set(before)  # no row deleted
    for fid, row in after.items():
        if fid in expired:
            assert row.text == EXPIRED_TEXT and row.customer_id is None and row.ticket_id is None
            assert (row.theme_id, row.agent_id, row.score) == (before[fid].theme_id, before[fid].agent_id,
                                                               before[fid].score)
        else:
            assert row.text == before[fid].text and row.text and row.customer_id == before[fid].customer_id
    assert _aggregates(store) == aggregates
    assert apply_retention(store.engine, 30, mode="blank", now=NOW).rows == 0  # blanked rows are not found again


def test_the_cli_uses_retention_days_and_reports_json(database_url: str, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    now = datetime.now(UTC)
    store = InsightStore.from_url(database_url)
    ages = _fill(store, [0.1, 1, 2.5, 5, 20], now=now)
    runner = CliRunner()

    missing = runner.invoke(main, ["retention", "--database-url", database_url], env={"RETENTION_DAYS": ""})
    assert missing.exit_code != 0 and "RETENTION_DAYS" in missing.output

    dry = runner.invoke(main, ["retention", "--dry-run", "--database-url", database_url],
                        env={"RETENTION_DAYS": "2"})
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output.strip().splitlines()[-1])["rows"] == 3
    assert store.count(FeedbackRecord) == 5

    done = runner.invoke(main, ["retention", "--days", "3"], env={"DATABASE_URL": database_url})
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output.strip().splitlines()[-1])
    assert summary["rows"] == 2 and summary["mode"] == "delete" and not summary["dry_run"]
    assert set(_rows(store)) == {fid for fid, age in ages.items() if age <= 3}


def test_retention_setting_and_cutoff_validation(monkeypatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "90")
    assert Settings().retention_days == 90
    monkeypatch.setenv("RETENTION_DAYS", "0")
    with pytest.raises(ValueError):
        Settings()
    with pytest.raises(ValueError):
        retention_cutoff(0)
    naive = datetime(2026, 1, 10, 0, 0)
    assert retention_cutoff(1, naive) == datetime(2026, 1, 9, tzinfo=UTC)
