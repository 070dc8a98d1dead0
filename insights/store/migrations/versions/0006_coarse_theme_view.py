"""A view of the coarse themes' trends: each coarse theme as the sum of its member themes' window counts.

Coarse themes have no window counts of their own: the trend monitor tests them as the sum of their members (and
alerts on them), and the API charts them so. BI tools get the same numbers here, grouped by each fine theme's
current coarse parent.

- ``v_coarse_theme_trend`` (new): per window, slice (``dimension`` / ``value``, ``__all__`` for the whole stream)
  and coarse theme, its members' count over the slice's items.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VIEW = """
    SELECT c.window_start, c.window_end, c.dimension, c.value,
           p.theme_id AS coarse_theme_id, COALESCE(p.label, p.theme_id) AS coarse_theme_label,
           COUNT(*) AS members, SUM(c.count) AS count, MAX(c.total) AS total,
           CAST(SUM(c.count) AS DOUBLE PRECISION) / NULLIF(MAX(c.total), 0) AS share
    FROM window_counts c
    JOIN themes t ON t.theme_id = c.theme_id AND t.level = 'fine'
    JOIN themes p ON p.theme_id = t.parent_id
    GROUP BY c.window_start, c.window_end, c.dimension, c.value, p.theme_id, p.label
"""


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_coarse_theme_trend")
    op.execute(f"CREATE VIEW v_coarse_theme_trend AS {VIEW.strip()}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_coarse_theme_trend")
