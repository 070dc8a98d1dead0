"""Tables of the insight store. Column names are part of the contract with BI tools: change them with care.

The schema is made by the Alembic migrations in ``insights/store/migrations`` (run by ``init_db``); a change
here needs a new revision there (tests/test_store_migrations.py fails when the two disagree).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


def _ts(**kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


class FeedbackRecord(SQLModel, table=True):
    """One feedback item (redacted) with its current theme assignment."""

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_event_time", "event_time"),
        Index("ix_feedback_theme_time", "theme_id", "event_time"),
        Index("ix_feedback_agent_time", "agent_id", "event_time"),
        Index("ix_feedback_team_time", "team", "event_time"),
        Index("ix_feedback_stage_time", "journey_stage", "event_time"),
        Index("ix_feedback_empathy_time", "empathy_category", "event_time"),
        Index("ix_feedback_channel_time", "channel", "event_time"),
    )

    feedback_id: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=16)
    text: str = Field(sa_column=Column(Text, nullable=False))
    event_time: datetime = _ts(nullable=False)
    score: float | None = None
    score_type: str | None = Field(default=None, max_length=16)
    agent_id: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    journey_stage: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=200)
    customer_id: str | None = Field(default=None, max_length=200)
    ticket_id: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=100)
    product: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=35)
    truncated: bool = False
    extra_dimensions: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    theme_id: str | None = Field(default=None, max_length=64)
    coarse_theme_id: str | None = Field(default=None, max_length=64)
    empathy_category: str | None = Field(default=None, max_length=32)
    similarity: float | None = None
    received_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class ThemeRecord(SQLModel, table=True):
    """The current state of a theme (the latest cx.themes message for its id)."""

    __tablename__ = "themes"

    theme_id: str = Field(primary_key=True, max_length=64)
    label: str = Field(max_length=300)
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    quotes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    size: int = 0
    empathy_category: str | None = Field(default=None, max_length=32, index=True)
    level: str = Field(default="fine", max_length=16)
    parent_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="active", max_length=16, index=True)
    created_at: datetime | None = _ts(nullable=True)
    updated_at: datetime | None = _ts(nullable=True)


class ThemeEventRecord(SQLModel, table=True):
    """Lineage: births, merges, splits, renames and retirements of themes."""

    __tablename__ = "theme_events"
    __table_args__ = (Index("ix_theme_events_theme_at", "theme_id", "at"),)

    event_id: str = Field(primary_key=True, max_length=64)
    theme_id: str = Field(max_length=64)
    event_type: str = Field(max_length=16)
    related_theme_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    label: str | None = Field(default=None, max_length=300)
    at: datetime = _ts(nullable=False)


class WindowCount(SQLModel, table=True):
    """Feedback counted per event-time window, theme and slice, with the slice's total as denominator.

    ``theme_id`` is a theme id, ``__all__`` (every item: the denominator row) or ``__empathy__`` (every item
    with an empathy category: all of an empathy theme's items, and flagged items in other themes).
    ``dimension``/``value`` are ``__all__`` for the whole stream.
    """

    __tablename__ = "window_counts"
    __table_args__ = (
        Index("ix_window_counts_theme_window", "theme_id", "window_start"),
        Index("ix_window_counts_slice_theme_window", "dimension", "value", "theme_id", "window_start"),
        Index("ix_window_counts_dimension_window", "dimension", "window_start"),
    )

    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    theme_id: str = Field(primary_key=True, max_length=64)
    dimension: str = Field(primary_key=True, max_length=64)
    value: str = Field(primary_key=True, max_length=200)
    window_end: datetime = _ts(nullable=False)
    count: int = 0
    total: int = 0


class AlertRecord(SQLModel, table=True):
    """An alert as published on cx.alerts."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_window_start", "window_start"),
        Index("ix_alerts_window_end", "window_end"),
    )

    alert_id: str = Field(primary_key=True, max_length=100)
    theme_id: str | None = Field(default=None, max_length=64, index=True)
    theme_label: str | None = Field(default=None, max_length=300)
    empathy_category: str | None = Field(default=None, max_length=32)
    dimensions: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    window_start: datetime = _ts(nullable=False)
    window_end: datetime = _ts(nullable=False)
    observed: float
    expected: float
    ratio: float
    p_value: float | None = None
    z: float | None = None
    severity: str = Field(max_length=16, index=True)
    quotes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    explanation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)
