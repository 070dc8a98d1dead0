"""The initial schema: feedback, themes, theme_events, window_counts, alerts (as create_all made it).

Revision ID: 0001
Revises:
Create Date: 2026-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("feedback_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _ts("event_time"),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_type", sa.String(16), nullable=True),
        sa.Column("agent_id", sa.String(200), nullable=True),
        sa.Column("team", sa.String(200), nullable=True),
        sa.Column("journey_stage", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("ticket_id", sa.String(200), nullable=True),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("product", sa.String(200), nullable=True),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("extra_dimensions", sa.JSON(), nullable=False),
        sa.Column("theme_id", sa.String(64), nullable=True),
        sa.Column("coarse_theme_id", sa.String(64), nullable=True),
        sa.Column("empathy_category", sa.String(32), nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        _ts("received_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_feedback_event_time", "feedback", ["event_time"])
    op.create_index("ix_feedback_theme_time", "feedback", ["theme_id", "event_time"])
    op.create_index("ix_feedback_agent_time", "feedback", ["agent_id", "event_time"])
    op.create_index("ix_feedback_team_time", "feedback", ["team", "event_time"])
    op.create_index("ix_feedback_stage_time", "feedback", ["journey_stage", "event_time"])
    op.create_index("ix_feedback_empathy_time", "feedback", ["empathy_category", "event_time"])

    op.create_table(
        "themes",
        sa.Column("theme_id", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(300), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("quotes", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("empathy_category", sa.String(32), nullable=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("created_at", nullable=True),
        _ts("updated_at", nullable=True),
    )
    op.create_index("ix_themes_empathy_category", "themes", ["empathy_category"])
    op.create_index("ix_themes_status", "themes", ["status"])

    op.create_table(
        "theme_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("theme_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("related_theme_ids", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("label", sa.String(300), nullable=True),
        _ts("at"),
    )
    op.create_index("ix_theme_events_theme_at", "theme_events", ["theme_id", "at"])

    op.create_table(
        "window_counts",
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("theme_id", sa.String(64), primary_key=True),
        sa.Column("dimension", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        _ts("window_end"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
    )
    op.create_index("ix_window_counts_theme_window", "window_counts", ["theme_id", "window_start"])

    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(100), primary_key=True),
        sa.Column("theme_id", sa.String(64), nullable=True),
        sa.Column("theme_label", sa.String(300), nullable=True),
        sa.Column("empathy_category", sa.String(32), nullable=True),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        _ts("window_start"),
        _ts("window_end"),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("z", sa.Float(), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("quotes", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_alerts_theme_id", "alerts", ["theme_id"])
    op.create_index("ix_alerts_window_start", "alerts", ["window_start"])
    op.create_index("ix_alerts_severity", "alerts", ["severity"])


def downgrade() -> None:
    for table in ("alerts", "window_counts", "theme_events", "themes", "feedback"):
        op.drop_table(table)
