"""Seeding: themes discovered in history reach cx.themes, and a follower built from them assigns alike."""

from __future__ import annotations

import pytest

from insights.schemas import first_error
from insights.settings import Settings
from insights.simulator import FeedbackSimulator
from insights.themes import ThemeModel
from streams.seed import seed_themes
from tests.worker_harness import read_json_topic

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
