"""The processing of one batch of input, free of Kafka: validate, redact, embed, assign a theme, store.

The faust agents (streams/) and the replay command call the same code, so a backtest behaves like production.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from insights.dead_letter import build_dead_letter
from insights.learning import ThemeLearner, encode_embedding
from insights.records import Feedback, InvalidFeedback, Kind, parse_feedback
from insights.retry import call_with_retry
from insights.store import InsightStore

log = logging.getLogger(__name__)


class Prediction(Protocol):
    theme_id: str | None
    theme_label: str | None
    empathy_category: str | None
    similarity: float
    coarse_theme_id: str | None
    theme_empathy_category: str | None


class ThemeAssigner(Protocol):
    """What the pipeline needs of the theme model (insights.themes.ThemeModel) to assign."""

    def predict(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> list[Any]: ...


class TextEmbedder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(slots=True)
class RawMessage:
    """One message as it came off a topic."""

    kind: Kind
    value: bytes
    topic: str
    key: bytes | None = None
    partition: int | None = None
    offset: int | None = None


@dataclass
class BatchResult:
    """What a batch produced: every input is in ``accepted`` or ``dead_letters``, never both, never neither."""

    accepted: list[Feedback] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    theme_events: list[dict[str, Any]] = field(default_factory=list)
    to_learn: list[dict[str, Any]] = field(default_factory=list)  # for the learner when it runs elsewhere
    seconds: float = 0.0


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


def assignment_message(
    fb: Feedback, pred: Any, previous_theme_id: str | None = None, revision: int = 0
) -> dict[str, Any]:
    """A cx.theme-assignments message (schemas/theme_assignment.v1.json)."""
    return {
        "schema_version": 1,
        "feedback_id": fb.feedback_id,
        "kind": fb.kind,
        "event_time": _iso(fb.event_time),
        "theme_id": pred.theme_id,
        "coarse_theme_id": getattr(pred, "coarse_theme_id", None),
        "coarse_theme_label": getattr(pred, "coarse_theme_label", None),
        "theme_label": pred.theme_label,
        "empathy_category": pred.empathy_category,
        "theme_empathy_category": getattr(pred, "theme_empathy_category", None),
        "similarity": float(pred.similarity),
        "previous_theme_id": previous_theme_id,
        "revision": revision,
        "source_topic": fb.source_topic,
        "source_partition": fb.source_partition,
        "score": fb.score,
        "score_type": fb.score_type,
        "dimensions": fb.dimensions,
        "text": fb.text,
        "assigned_at": _iso(datetime.now(UTC)),
    }


def feedback_row(fb: Feedback, pred: Any) -> dict[str, Any]:
    """The store row of a feedback item with its assignment."""
    return {
        "feedback_id": fb.feedback_id,
        "kind": fb.kind,
        "text": fb.text,
        "event_time": fb.event_time,
        "score": fb.score,
        "score_type": fb.score_type,
        "agent_id": fb.agent_id,
        "team": fb.team,
        "journey_stage": fb.journey_stage,
        "channel": fb.channel,
        "customer_id": fb.customer_id,
        "ticket_id": fb.ticket_id,
        "source": fb.source,
        "product": fb.product,
        "language": fb.language,
        "truncated": fb.truncated,
        "extra_dimensions": dict(fb.extra_dimensions),
        "theme_id": pred.theme_id,
        "coarse_theme_id": getattr(pred, "coarse_theme_id", None),
        "empathy_category": pred.empathy_category,
        "similarity": float(pred.similarity),
    }


class FeedbackProcessor:
    """validate -> redact -> embed (batched) -> assign a theme -> upsert into the store.

    With a ``learner`` the theme model also learns in-line (a replay, a single process); without one, what
    it saw is returned in ``BatchResult.to_learn`` for the one learner of the stream.
    """

    def __init__(
        self,
        store: InsightStore | None,
        embedder: TextEmbedder,
        themes: ThemeAssigner,
        *,
        learner: ThemeLearner | None = None,
        max_message_bytes: int = 256_000,
        max_text_chars: int = 5_000,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.themes = themes
        self.learner = learner
        self.max_message_bytes = max_message_bytes
        self.max_text_chars = max_text_chars

    def parse(self, messages: Sequence[RawMessage]) -> tuple[list[Feedback], list[dict[str, Any]]]:
        """Split a batch into accepted feedback and dead letters (with reasons)."""
        accepted: list[Feedback] = []
        dead: list[dict[str, Any]] = []
        for m in messages:
            try:
                fb = parse_feedback(m.kind, m.value, max_bytes=self.max_message_bytes, max_chars=self.max_text_chars)
                fb.source_topic, fb.source_partition = m.topic, m.partition
                accepted.append(fb)
            except InvalidFeedback as exc:
                dead.append(self._dead(m, exc.reason, exc.error_type))
            except Exception as exc:  # a bug must not stop the stream or lose the message
                log.exception("unexpected error parsing a message from %s", m.topic)
                dead.append(self._dead(m, f"internal error while parsing: {type(exc).__name__}", "processing_error"))
        return accepted, dead

    def reject(self, messages: Sequence[RawMessage], reason: str) -> BatchResult:
        """Dead-letter a whole batch that processing kept failing on, so the stream moves on and loses nothing."""
        return BatchResult(dead_letters=[self._dead(m, reason, "processing_error") for m in messages])

    def _dead(self, m: RawMessage, reason: str, error_type: str) -> dict[str, Any]:
        return build_dead_letter(
            m.value,
            reason=reason,
            error_type=error_type,
            source_topic=m.topic,
            source_partition=m.partition,
            source_offset=m.offset,
            key=m.key,
        )

    def process(self, messages: Sequence[RawMessage]) -> BatchResult:
        """Process a batch from the topics; the store holds the accepted items when this returns."""
        started = time.perf_counter()
        accepted, dead = self.parse(messages)
        result = self.process_feedback(accepted)
        result.dead_letters = dead
        result.seconds = time.perf_counter() - started
        return result

    def process_feedback(self, accepted: Sequence[Feedback]) -> BatchResult:
        """Embed, assign and store already validated feedback (the replay enters here)."""
        started = time.perf_counter()
        result = BatchResult(accepted=list(accepted))
        if accepted:
            texts = [fb.text for fb in accepted]
            embeddings = self.embedder.encode(texts)
            predictions = self.themes.predict(texts, embeddings)
            if self.store is not None:
                rows = [feedback_row(fb, p) for fb, p in zip(accepted, predictions, strict=True)]
                call_with_retry(self.store.upsert_feedback, rows)
            result.assignments = [assignment_message(fb, p) for fb, p in zip(accepted, predictions, strict=True)]
            result.to_learn = [
                {**message, "embedding": encode_embedding(vector)}
                for message, vector in zip(result.assignments, embeddings, strict=True)
            ]
            if self.learner is not None:
                learned = self.learner.learn(result.to_learn)
                result.to_learn = []
                result.theme_events = learned.theme_events
                result.assignments.extend(learned.assignments)
        result.seconds = time.perf_counter() - started
        return result
