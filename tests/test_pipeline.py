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


def test_the_watermark_waits_for_unseen_partitions_only_briefly():
    """Expected partitions that never bring an event (no reviews in this deployment) hold windows open, and
    memory with them, for ``unseen_seconds`` after the first event, not for the whole idle time."""
    mark = PartitionWatermark(idle_seconds=60.0, partitions=2, unseen_seconds=0.2)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    mark.update(0, t0)
    assert mark.value() is None  # partition 1 may still bring older events
    time.sleep(0.3)
    mark.update(0, t0 + timedelta(hours=2))
    assert mark.value() == t0 + timedelta(hours=2)
    mark.update(1, t0 + timedelta(hours=1))  # it turned up after all: from now on it holds the mark back
    assert mark.value() == t0 + timedelta(hours=1)


def test_the_learner_places_what_a_lagging_worker_left_unassigned(embedder, sqlite_url):
    """A worker that has not read the newest cx.themes yet stores items without a theme; the learner, which
    has the registry, re-assigns those that fit a theme at once (revision 1) instead of waiting for discovery."""
    store = InsightStore.from_url(sqlite_url)
    learner = ThemeLearner(ThemeModel(embedder=embedder), store)
    history = FeedbackSimulator(seed=8).generate(1200)
    texts = [i.message.get("comment") or i.message.get("body") for i in history]
    learner.seed(texts, embedder.encode(texts))
    lagging = FeedbackProcessor(store, embedder, ThemeModel(embedder=embedder))  # knows no theme yet
    fresh = FeedbackSimulator(seed=9).generate(200)
    result = lagging.process([RawMessage(kind=i.kind, value=json.dumps(i.message).encode(),
                                         topic=f"cx.feedback.{i.kind}", partition=0) for i in fresh])
    assert all(a["theme_id"] is None for a in result.assignments)

    learned = learner.learn(result.to_learn)
    placed = {a["feedback_id"]: a for a in learned.assignments}
    assert len(placed) >= 0.7 * len(fresh), f"only {len(placed)} of {len(fresh)} placed"
    for message in placed.values():
        assert message["revision"] == 1 and learner.themes.registry.get(message["theme_id"]) is not None
        assert first_error("theme_assignment", message) is None, message
    stored = {r.feedback_id: r.theme_id for r in _rows(store)}
    assert all(stored[fid] == m["theme_id"] for fid, m in placed.items())
    # what fits no theme waits for a discovery round, as before
    assert len(learner._pending) == len(fresh) - len(placed)



def test_the_learner_places_what_it_buffered_before_it_read_the_seed(embedder, sqlite_url):
    """Workers and the learner can take their first batches before the registry is seeded (or before they read
    the seed): those items wait unassigned in the learner's buffer. Once the learner applies the seeded themes,
    its next batch places them (revision 1), instead of leaving them for a discovery round a seeded stream may
    never run."""
    store = InsightStore.from_url(sqlite_url)
    learner = ThemeLearner(ThemeModel(embedder=embedder), store)  # follows cx.themes, seed not read yet
    early = FeedbackSimulator(seed=9).generate(200)
    lagging = FeedbackProcessor(store, embedder, ThemeModel(embedder=embedder))
    result = lagging.process([RawMessage(kind=i.kind, value=json.dumps(i.message).encode(),
                                         topic=f"cx.feedback.{i.kind}", partition=0) for i in early])
    early_ids = {fb.feedback_id for fb in result.accepted}
    assert len(early_ids) == len(early)
    assert not learner.learn(result.to_learn).assignments  # nothing to place them in yet
    history = FeedbackSimulator(seed=8).generate(1200)
    texts = [i.message.get("comment") or i.message.get("body") for i in history]
    seeded = ThemeLearner(ThemeModel(embedder=embedder), store).seed(texts, embedder.encode(texts))
    for event in seeded.theme_events:  # what follow_topic hands the learner's model from cx.themes
        learner.themes.apply_event(json.loads(json.dumps(event)))

    later = FeedbackSimulator(seed=10).generate(20)
    result = lagging.process([RawMessage(kind=i.kind, value=json.dumps(i.message).encode(),
                                         topic=f"cx.feedback.{i.kind}", partition=0) for i in later])
    placed = {a["feedback_id"]: a for a in learner.learn(result.to_learn).assignments}
    placed_early = early_ids & set(placed)
    assert len(placed_early) >= 0.7 * len(early), f"only {len(placed_early)} of {len(early)} placed"
    for fid in placed_early:
        assert placed[fid]["revision"] == 1 and learner.themes.registry.get(placed[fid]["theme_id"]) is not None
        assert first_error("theme_assignment", placed[fid]) is None, placed[fid]
    stored = {r.feedback_id: r.theme_id for r in _rows(store)}
    assert all(stored[fid] == placed[fid]["theme_id"] for fid in placed_early)
    assert learner.themes.unassigned_count <= len(early) + len(later) - len(placed_early)

def _rows(store: InsightStore) -> list[FeedbackRecord]:
    from sqlmodel import Session, select

    with Session(store.engine) as session:
        return list(session.exec(select(FeedbackRecord)).all())
