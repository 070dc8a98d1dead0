"""The backtest: the stream's own code (redact, embed, assign, learn, count, test) over a historic file,
in event-time order, so alert rules can be tuned on history before going live."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from insights.lineage import merges
from insights.pipeline import FeedbackProcessor
from insights.records import Feedback, clean_text
from insights.redact import redact
from insights.trend_stage import TrendStage

log = logging.getLogger(__name__)

CHUNK = 256


@dataclass(frozen=True)
class ReplayColumns:
    """Which file columns hold what; ``dimensions`` maps a dimension name to a column."""

    time: str
    text: str
    id: str | None = None
    score: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)


@dataclass
class ReplayResult:
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    rows: int = 0


def parse_event_time(value: Any) -> datetime:
    """ISO 8601 (a missing zone is read as UTC: a historic export rarely says) or epoch seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value).strip()
    if text.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def feedback_from_row(row: dict[str, Any], number: int, columns: ReplayColumns, max_chars: int = 5000) -> Feedback:
    """A file row as a Feedback item (redacted); ValueError says what is wrong with the row."""
    text, truncated = clean_text(str(row.get(columns.text) or ""), max_chars)
    if not text:
        raise ValueError("empty text")
    raw_time = row.get(columns.time)
    if raw_time in (None, ""):
        raise ValueError("no time")
    try:
        event_time = parse_event_time(raw_time)
    except ValueError as exc:
        raise ValueError("unreadable time") from exc
    score = None
    if columns.score and row.get(columns.score) not in (None, ""):
        try:
            score = float(row[columns.score])
        except (TypeError, ValueError):
            score = None
    known = {"agent_id", "team", "journey_stage", "channel"}
    dims = {name: str(row[col]) for name, col in columns.dimensions.items() if row.get(col) not in (None, "")}
    has_id = columns.id and row.get(columns.id) not in (None, "")
    return Feedback(
        feedback_id=str(row[columns.id]) if has_id else f"row-{number}",
        kind="survey",
        text=redact(text),
        event_time=event_time,
        score=score,
        score_type="score" if score is not None else None,
        truncated=truncated,
        extra_dimensions={k: v for k, v in dims.items() if k not in known},
        **{k: v for k, v in dims.items() if k in known},
    )


class Replay:
    """Feeds a file through the processor and the trend stage in event-time order."""

    def __init__(self, processor: FeedbackProcessor, trends: TrendStage) -> None:
        self.processor = processor
        self.trends = trends

    def run(
        self,
        rows: Sequence[dict[str, Any]],
        columns: ReplayColumns,
        on_progress: Callable[[int], None] | None = None,
        seed_fraction: float = 0.2,
    ) -> ReplayResult:
        """``seed_fraction``: the earliest share of rows the theme model is fitted on before the replay."""
        result = ReplayResult(rows=len(rows))
        items: list[Feedback] = []
        for number, row in enumerate(rows, start=1):
            try:
                items.append(feedback_from_row(row, number, columns, self.processor.max_text_chars))
            except ValueError as exc:
                result.rejected[str(exc)] += 1
                if on_progress:
                    on_progress(1)
        items.sort(key=lambda fb: fb.event_time)
        seed_count = int(len(items) * seed_fraction)
        if seed_count and self.processor.learner is not None:
            # As a deployment seeds its registry from history (`insights seed`), the backtest discovers themes
            # in its earliest part first, so the trend test never compares a theme with its own infancy.
            seed = items[:seed_count]
            texts = [fb.text for fb in seed]
            self.processor.learner.seed(texts, self.processor.embedder.encode(texts))
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            batch = self.processor.process_feedback(chunk)
            for message in batch.assignments:
                result.assignments[message["feedback_id"]] = message
            new_alerts = self.trends.observe(batch.assignments)
            self.trends.follow_merges(merges(batch.theme_events))  # learnt after this batch was assigned
            self.trends.persist(new_alerts)
            result.alerts.extend(new_alerts)
            if on_progress:
                on_progress(len(chunk))
        final = self.trends.flush()
        self.trends.persist(final)
        result.alerts.extend(final)
        return result
