"""The theme views list themes only; each empathy category gets its own view.

``window_counts`` also holds one ``__empathy__:<category>`` row per window and slice: the items of that category,
whatever their theme (what alerts on "rude complaints (all themes)" count). The theme views of 0003 let those
rows through, labelled with their raw id, so a BI chart of "top themes" showed ``__empathy__:rude`` beside the
themes that hold the same items, and a sum over themes counted those items twice.

- ``v_theme_trend``, ``v_theme_by_agent``, ``v_theme_by_journey_stage``, ``v_theme_by_dimension``: as in 0003,
  without the category rows.
- ``v_empathy_category_share`` (new): per window, slice and empathy category, its items over all items, labelled
  as its alerts are ("rude complaints (all themes)").

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NOT_SPECIAL = "c.theme_id NOT IN ('__all__', '__empathy__') AND substr(c.theme_id, 1, 12) <> '__empathy__:'"
_SHARE = "CAST({n} AS DOUBLE PRECISION) / NULLIF({d}, 0)"
_THEME_COLUMNS = (
    "c.theme_id, COALESCE(t.label, c.theme_id) AS theme_label, t.empathy_category, "
    "c.count, c.total, " + _SHARE.format(n="c.count", d="c.total") + " AS share"
)

VIEWS = {
    "v_theme_trend": f"""
        SELECT c.window_start, c.window_end, c.theme_id,
               COALESCE(t.label, c.theme_id) AS theme_label, t.empathy_category, t.level AS theme_level,
               c.count, c.total, {_SHARE.format(n="c.count", d="c.total")} AS share
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension = '__all__' AND c.value = '__all__' AND {_NOT_SPECIAL}
    """,
    "v_theme_by_agent": f"""
        SELECT c.window_start, c.window_end, c.value AS agent_id, {_THEME_COLUMNS}
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension = 'agent_id' AND {_NOT_SPECIAL}
    """,
    "v_theme_by_journey_stage": f"""
        SELECT c.window_start, c.window_end, c.value AS journey_stage, {_THEME_COLUMNS}
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension = 'journey_stage' AND {_NOT_SPECIAL}
    """,
    "v_theme_by_dimension": f"""
        SELECT c.window_start, c.window_end, c.dimension, c.value, {_THEME_COLUMNS}
        FROM window_counts c LEFT JOIN themes t ON t.theme_id = c.theme_id
        WHERE c.dimension <> '__all__' AND {_NOT_SPECIAL}
    """,
    "v_empathy_category_share": f"""
        SELECT c.window_start, c.window_end, c.dimension, c.value,
               substr(c.theme_id, 13) AS empathy_category,
               REPLACE(substr(c.theme_id, 13), '_', ' ') || ' complaints (all themes)' AS label,
               c.count, c.total, {_SHARE.format(n="c.count", d="c.total")} AS share
        FROM window_counts c
        WHERE substr(c.theme_id, 1, 12) = '__empathy__:'
    """,
}


def upgrade() -> None:
    for name, sql in VIEWS.items():
        op.execute(f"DROP VIEW IF EXISTS {name}")
        op.execute(f"CREATE VIEW {name} AS {sql.strip()}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_empathy_category_share")
    before = importlib.import_module("insights.store.migrations.versions.0003_bi_views").VIEWS
    for name, sql in before.items():
        if name in VIEWS:
            op.execute(f"DROP VIEW IF EXISTS {name}")
            op.execute(f"CREATE VIEW {name} AS {sql.strip()}")
