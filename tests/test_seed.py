"""Seeding: themes discovered in history reach cx.themes, and a follower built from them assigns alike."""

from __future__ import annotations

import json
import uuid

import pytest

from insights.schemas import first_error
from insights.settings import Settings
from insights.simulator import FeedbackSimulator
from insights.store import FeedbackRecord, InsightStore
from insights.themes import ThemeModel
from streams.seed import seed_themes
from tests.worker_harness import WorkerProcess, produce, read_json_topic, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_seeded_themes_are_published_and_a_follower_can_learn_from_them(broker, embedder):
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers)
    history = [item.text for item in FeedbackSimulator(seed=50).generate(600)]
    count = seed_themes(settings, history, embedder=embedder)
    events = read_json_topic(broker.bootstrap_servers, settings.topic_themes)
    assert count > 3 and len(events) == count
    for event in events:
        assert first_error("theme_event", event) is None

    follower = ThemeModel(embedder=embedder)
    for event in events:
        follower.apply_event(event)
    live = [item.text for item in FeedbackSimulator(seed=51).generate(300)]
    predictions = follower.predict(live)
    assert sum(p.theme_id is not None for p in predictions) >= 0.7 * len(live)
    follower.partial_fit(live, ids=[f"live-{i}" for i in range(len(live))])  # a follower promoted to learner
    assert {t.theme_id for t in follower.themes} >= {e["theme_id"] for e in events if e["theme"]["status"] == "active"}


def test_feedback_taken_before_the_seed_gets_a_theme_once_the_worker_reads_it(broker, sqlite_url, tmp_path, embedder):
    """A stream started before its registry was seeded stores its first items without a theme (there is none
    yet). When the seed arrives, those items are re-assigned without any further feedback having to come."""
    from sqlmodel import Session, select

    store = InsightStore.from_url(sqlite_url)
    env = worker_env(broker.bootstrap_servers, sqlite_url, tmp_path, APP_ID=f"late-seed-{uuid.uuid4().hex[:6]}")
    worker = WorkerProcess(env, tmp_path / "worker.log")

    def themed() -> int:
        with Session(store.engine) as session:
            return sum(1 for r in session.exec(select(FeedbackRecord)).all() if r.theme_id)

    early = FeedbackSimulator(seed=51).generate(300)
    try:
        wait_until(lambda: "Setting newly assigned partitions" in worker.log_text(), timeout=120, worker=worker,
                   what="the worker in its group")
        produce(broker.bootstrap_servers,
                [(f"cx.feedback.{i.kind}", json.dumps(i.message).encode()) for i in early])
        wait_until(lambda: store.count(FeedbackRecord) >= len(early), timeout=180, worker=worker, what="every row")
        assert themed() == 0  # fewer items than a discovery round needs, and no theme to assign them to
        history = [item.text for item in FeedbackSimulator(seed=50).generate(600)]
        seed_themes(Settings(kafka_bootstrap_servers=broker.bootstrap_servers), history, embedder=embedder)
        wait_until(lambda: themed() >= 0.7 * len(early), timeout=120, worker=worker,
                   what="the early rows re-assigned to seeded themes")
        worker.assert_running()
        # placed by the learner (on its next batch, or its timer when no batch comes), not by a discovery round
        assert "buffered items in themes read from the registry" in worker.log_text()
    finally:
        worker.stop()
