"""The domain pipeline without Kafka: every input accounted for, every output valid against its schema."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from insights.learning import ThemeLearner
from insights.pipeline import FeedbackProcessor, RawMessage
from insights.schemas import first_error
from insights.simulator import FeedbackSimulator
from insights.store import FeedbackRecord, InsightStore, ThemeRecord
from insights.themes import ThemeModel
from insights.trend_stage import PartitionWatermark
from tests.messages import broken_messages

pytestmark = pytest.mark.slow


def test_a_batch_stream_is_stored_or_dead_lettered_and_messages_match_their_schemas(embedder, sqlite_url):
    store = InsightStore.from_url(sqlite_url)
    themes = ThemeModel(embedder=embedder)
    processor = FeedbackProcessor(store, embedder, themes, learner=ThemeLearner(themes, store))
    items = FeedbackSimulator(seed=4).generate(900)
    raw = [RawMessage(kind=i.kind, value=json.dumps(i.message).encode(), topic=f"cx.feedback.{i.kind}", partition=0)
           for i in items]
    raw += [RawMessage(kind=kind, value=value, topic="cx.feedback.survey") for kind, value, _ in broken_messages()]

    stored = dead = 0
    assignments, events = [], []
    for start in range(0, len(raw), 128):
        result = processor.process(raw[start : start + 128])
        stored += len(result.accepted)
        dead += len(result.dead_letters)
        assignments += result.assignments
        events += result.theme_events
        for letter in result.dead_letters:
            assert first_error("dead_letter", letter) is None
    assert (stored, dead) == (900, 20)
    assert store.count(FeedbackRecord) == 900
    assert events, "no theme was discovered in 900 items"
    assert store.count(ThemeRecord) > 0
    for message in assignments:
        assert first_error("theme_assignment", message) is None, message
    for event in events:
        assert first_error("theme_event", event) is None, event
    placed = {a["feedback_id"] for a in assignments if a["theme_id"]}
    assert len(placed) >= 0.8 * 900


def test_the_watermark_waits_for_the_slowest_active_partition():
    mark = PartitionWatermark(idle_seconds=0.2)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    mark.update(0, t0 + timedelta(hours=5))
    mark.update(1, t0 + timedelta(hours=1))
    assert mark.value() == t0 + timedelta(hours=1)
    mark.update(1, t0 + timedelta(minutes=30))  # older than what partition 1 already reached
    assert mark.value() == t0 + timedelta(hours=1)
    time.sleep(0.3)
    mark.update(0, t0 + timedelta(hours=6))  # partition 1 went quiet: it no longer holds the mark back
    assert mark.value() == t0 + timedelta(hours=6)
