"""Indexes for the read API and the BI views: slices of window counts, the alert feed, feedback by channel.

``if_not_exists`` because a store made by ``create_all`` from newer models already has them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = (
    # a theme's trend in one slice: dimension = '__all__' / 'agent_id', value, theme, window range
    ("ix_window_counts_slice_theme_window", "window_counts", ["dimension", "value", "theme_id", "window_start"]),
    # a breakdown by one dimension over a time range (themes by agent, theme x journey stage)
    ("ix_window_counts_dimension_window", "window_counts", ["dimension", "window_start"]),
    # the alert feed, newest first, and its time filter
    ("ix_alerts_window_end", "alerts", ["window_end"]),
    ("ix_feedback_channel_time", "feedback", ["channel", "event_time"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table, if_exists=True)
