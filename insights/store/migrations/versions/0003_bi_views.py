"""SQL views a BI tool (Grafana, Metabase, Superset) can chart without knowing our code.

All read ``window_counts`` (one row per event-time window, theme and slice, with the slice's item count as
``total``) joined to ``themes`` for the label. ``share`` is ``count / total`` (NULL when ``total`` is 0).

- ``v_theme_trend``: per window and theme over the whole stream.
- ``v_empathy_share``: per window and slice (``dimension = '__all__'`` for the whole stream, or ``agent_id``,
  ``team``, ``journey_stage``, ``channel``), the items in any empathy theme over all items.
- ``v_theme_by_agent`` / ``v_theme_by_journey_stage``: per window, agent (stage) and theme.
- ``v_theme_by_dimension``: the same for any dimension (``dimension``, ``value`` columns).

The SQL is the same on SQLite and PostgreSQL. It is written out here (not imported) so this revision never
changes after it shipped; a later change to a view is a new revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-03-02
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SPECIAL = "('__all__', '__empathy__')"
_SHARE = "CAST({n} AS DOUBLE PRECISION) / NULLIF({d}, 0)"

VIEWS = {
    "v_theme_trend": f"""
        SELECT c.window_start, c.window_end, c.theme_id,
               COALESCE(t.label, c.theme_id) AS theme_label, t.empathy_category, t.level AS theme_level,
               c.count, c.total, {_SHARE.format(n="c.count", d="c.total")} AS share
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension = '__all__' AND c.value = '__all__' AND c.theme_id NOT IN {_SPECIAL}
    """,
    "v_empathy_share": f"""
        SELECT a.window_start, a.window_end, a.dimension, a.value,
               COALESCE(e.count, 0) AS empathy_count, a.count AS total,
               {_SHARE.format(n="COALESCE(e.count, 0)", d="a.count")} AS share
        FROM window_counts a LEFT JOIN window_counts e
          ON e.window_start = a.window_start AND e.dimension = a.dimension AND e.value = a.value
         AND e.theme_id = '__empathy__'
        WHERE a.theme_id = '__all__'
    """,
    "v_theme_by_agent": f"""
        SELECT c.window_start, c.window_end, c.value AS agent_id, c.theme_id,
               COALESCE(t.label, c.theme_id) AS theme_label, t.empathy_category,
               c.count, c.total, {_SHARE.format(n="c.count", d="c.total")} AS share
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension = 'agent_id' AND c.theme_id NOT IN {_SPECIAL}
    """,
    "v_theme_by_journey_stage": f"""
        SELECT c.window_start, c.window_end, c.value AS journey_stage, c.theme_id,
               COALESCE(t.label, c.theme_id) AS theme_label, t.empathy_category,
               c.count, c.total, {_SHARE.format(n="c.count", d="c.total")} AS share
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension = 'journey_stage' AND c.theme_id NOT IN {_SPECIAL}
    """,
    "v_theme_by_dimension": f"""
        SELECT c.window_start, c.window_end, c.dimension, c.value, c.theme_id,
               COALESCE(t.label, c.theme_id) AS theme_label, t.empathy_category,
               c.count, c.total, {_SHARE.format(n="c.count", d="c.total")} AS share
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension <> '__all__' AND c.theme_id NOT IN {_SPECIAL}
    """,
}


def upgrade() -> None:
    for name, sql in VIEWS.items():
        op.execute(f"DROP VIEW IF EXISTS {name}")
        op.execute(f"CREATE VIEW {name} AS {sql.strip()}")


def downgrade() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
