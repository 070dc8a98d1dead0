"""Builds the domain objects a worker, the demo or a replay needs, from settings, in one place."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from insights.embedding import Embedder
from insights.learning import ThemeLearner
from insights.pipeline import FeedbackProcessor
from insights.settings import Settings
from insights.store import InsightStore
from insights.themes import ThemeModel
from insights.trend_stage import TrendStage
from insights.trends import TrendMonitor

log = logging.getLogger(__name__)


def make_monitor(settings: Settings, state: MutableMapping[str, Any] | None = None) -> TrendMonitor:
    """The trend monitor with the configured rules; ``state`` lets the stream back it with a faust table."""
    return TrendMonitor(
        window=settings.window,
        grace=settings.grace,
        min_volume=settings.alert_min_volume,
        cooldown_windows=settings.alert_cooldown_windows,
        p_value=settings.alert_p_value,
        state=state,
        praise_satisfaction=settings.alert_praise_satisfaction,
    )


@dataclass
class Runtime:
    settings: Settings
    store: InsightStore
    embedder: Embedder
    themes: ThemeModel
    learner: ThemeLearner
    processor: FeedbackProcessor
    trends: TrendStage

    @classmethod
    def build(cls, settings: Settings, learn_in_line: bool = False) -> Runtime:
        """``learn_in_line``: the processor feeds the theme model itself (one process, no discovery topic)."""
        store = InsightStore.from_url(settings.database_url)
        embedder = Embedder(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            cache_size=settings.embedding_cache_size,
            device=settings.embedding_device,
            backend=settings.embedding_backend,
            max_batch_tokens=settings.embedding_max_batch_tokens,
            onnx_dir=settings.embedding_onnx_dir,
        )
        themes = ThemeModel(embedder=embedder)
        # In the stream the learner has a model of its own, touched only by its own thread: discovery rounds
        # (seconds of clustering) then run beside embedding instead of stalling it, and the assigning model
        # follows the learner's lineage on cx.themes like every other worker's.
        learner = ThemeLearner(themes if learn_in_line else ThemeModel(embedder=embedder), store)
        processor = FeedbackProcessor(
            store,
            embedder,
            themes,
            learner=learner if learn_in_line else None,
            max_message_bytes=settings.max_message_bytes,
            max_text_chars=settings.max_text_chars,
        )
        trends = TrendStage(store, make_monitor(settings))
        log.info("runtime ready: store %s, model %s", store.engine.url.render_as_string(), settings.embedding_model)
        return cls(settings, store, embedder, themes, learner, processor, trends)
