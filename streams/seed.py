"""Seed the theme registry from history, so workers start with mature themes instead of learning from zero.

A stream that starts with no themes spends its first windows discovering them, and the rates it counts
meanwhile are not comparable with later ones. ``insights seed`` runs the same batch discovery as
``insights discover`` over a historic export and publishes the themes to cx.themes, which every worker
(and the one learner) follows from the start.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from insights.embedding import Embedder
from insights.settings import Settings
from insights.store import InsightStore
from insights.themes import ThemeModel
from streams.kafka_config import aiokafka_kwargs
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


async def publish_theme_events(settings: Settings, events: Sequence[dict]) -> None:
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for event in events:
            await producer.send(settings.topic_themes, json.dumps(event).encode(), key=event["theme_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()


def seed_themes(settings: Settings, texts: Sequence[str], embedder: Embedder | None = None,
                store: InsightStore | None = None) -> int:
    """Discover themes in ``texts`` and publish them to cx.themes (and the store); returns how many."""
    embedder = embedder or Embedder(settings.embedding_model, batch_size=settings.embedding_batch_size)
    model = ThemeModel(embedder=embedder)
    model.fit(list(texts))
    events = [e.to_message() for e in model.pop_events()]
    asyncio.run(ensure_topics(settings))  # cx.themes must be the one-partition compacted topic, not auto-created
    asyncio.run(publish_theme_events(settings, events))
    if store is not None:
        store.apply_theme_events(events)
    fine = sum(1 for t in model.themes if t.level == "fine")
    log.info("seeded %d themes (%d fine) from %d texts", len(model.themes), fine, len(texts))
    return len(model.themes)
