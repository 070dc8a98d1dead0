"""Retention: forget the words of customers after ``RETENTION_DAYS``, keep what was learned from them.

The store keeps each feedback item's redacted text (``feedback.text``) and its identifiers (``customer_id``,
``ticket_id``). Past the retention period (counted from the item's event time, i.e. when the customer wrote it)
:func:`apply_retention` either deletes those rows (``mode="delete"``, the default) or blanks them
(``mode="blank"``: the text becomes :data:`EXPIRED_TEXT` and the customer and ticket ids NULL, while the theme
assignment, score and slice dimensions stay, so per-item analyses keep their counts).

Aggregates are never touched: ``window_counts`` (what trends, dashboards and BI views read), ``alerts`` and
``themes``/``theme_events``. Their quotes are a handful of already redacted samples per theme or alert.

Work is done in chunks of ``chunk_rows`` rows per transaction, so a first run over a large store does not hold
a long lock against the worker's writes. Running it twice is harmless (the second run finds nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Engine

from insights.store.models import FeedbackRecord

Mode = Literal["delete", "blank"]
MODES: tuple[str, ...] = ("delete", "blank")
EXPIRED_TEXT = ""
"""What a blanked row's text becomes (the column is NOT NULL)."""

_feedback = FeedbackRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RetentionResult:
    cutoff: datetime
    mode: str
    rows: int
    """Rows deleted or blanked (with ``dry_run``: rows that would be)."""
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"cutoff": self.cutoff.isoformat(), "mode": self.mode, "rows": self.rows, "dry_run": self.dry_run}


def retention_cutoff(days: int, now: datetime | None = None) -> datetime:
    """The instant before which feedback text is expired."""
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, got {days}")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC) - timedelta(days=days)


def _expired(cutoff: datetime, mode: Mode):
    old = _feedback.c.event_time < cutoff
    if mode == "blank":  # rows already blanked are not found again
        return and_(
            old,
            or_(_feedback.c.text != EXPIRED_TEXT, _feedback.c.customer_id.is_not(None),
                _feedback.c.ticket_id.is_not(None)),
        )
    return old


def apply_retention(
    engine: Engine,
    days: int,
    *,
    mode: Mode = "delete",
    now: datetime | None = None,
    dry_run: bool = False,
    chunk_rows: int = 5_000,
) -> RetentionResult:
    """Delete (or blank) stored feedback whose event time is more than ``days`` days before ``now``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    cutoff = retention_cutoff(days, now)
    condition = _expired(cutoff, mode)
    if dry_run:
        with engine.connect() as conn:
            rows = int(conn.execute(select(func.count()).select_from(_feedback).where(condition)).scalar_one())
        return RetentionResult(cutoff, mode, rows, dry_run=True)

    total = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(select(_feedback.c.feedback_id).where(condition).limit(chunk_rows)).scalars())
            if not ids:
                break
            if mode == "delete":
                stmt = delete(_feedback).where(_feedback.c.feedback_id.in_(ids))
            else:
                stmt = (
                    update(_feedback)
                    .where(_feedback.c.feedback_id.in_(ids))
                    .values(text=EXPIRED_TEXT, customer_id=None, ticket_id=None, updated_at=datetime.now(UTC))
                )
            total += conn.execute(stmt).rowcount or 0
        if len(ids) < chunk_rows:
            break
    return RetentionResult(cutoff, mode, total)
