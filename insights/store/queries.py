"""Read queries behind the API, the dashboard and ``insights report`` (SQLAlchemy Core, bound parameters only).

Times go in and come out as timezone-aware UTC datetimes. Every time-ranged query reads ``window_counts``
(``window_start`` in ``[since, until)``), which holds per window and slice the count of each theme, the
``__all__`` row (the slice's item count, the denominator), the ``__empathy__`` row (items with an empathy
category: every item of an empathy theme, and flagged items in other themes) and one ``__empathy__:<category>``
row per empathy category (items of that category, whatever their theme). Those three kinds are not themes:
rankings of themes leave them out. Coarse themes have no rows of their own: their trend is the sum of their member
themes' rows, as the trend monitor tests them. The indexes these queries use are in models.py / migration 0002.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, desc, func, or_, select
from sqlalchemy.engine import Engine

from insights.store.models import AlertRecord, FeedbackRecord, ThemeEventRecord, ThemeRecord, WindowCount
from insights.trends.model import CATEGORY_PREFIX, category_label, category_of
from insights.trends.model import EMPATHY_LABEL as EMPATHY_LABEL  # the API labels the aggregate as alerts do

TOTAL = "__all__"
EMPATHY = "__empathy__"
SPECIAL_THEMES = (TOTAL, EMPATHY)
DIMENSIONS = ("agent_id", "team", "journey_stage", "channel")
SEVERITIES = ("low", "medium", "high", "critical")

wc = WindowCount.__table__
themes_t = ThemeRecord.__table__
events_t = ThemeEventRecord.__table__
alerts_t = AlertRecord.__table__
feedback_t = FeedbackRecord.__table__


def utc(moment: datetime | None) -> datetime | None:
    """Aware UTC (naive values are taken as UTC: SQLite hands them back without an offset)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    m = utc(moment)
    return None if m is None else m.isoformat().replace("+00:00", "Z")


def _share(count: int, total: int) -> float | None:
    return round(count / total, 6) if total else None


def _is_theme(column: Any) -> Any:
    """A real theme's row: not the denominator, the empathy total or an empathy category's count. A category's
    items are already counted in their themes, so ranking it beside them would list the same items twice."""
    return and_(column.not_in(SPECIAL_THEMES), ~column.startswith(CATEGORY_PREFIX, autoescape=True))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- the data's extent ------------------------------------------------------------------------------------
def data_range(engine: Engine) -> tuple[datetime | None, datetime | None]:
    """First window start and last window end in the store (None, None when empty)."""
    stmt = select(func.min(wc.c.window_start), func.max(wc.c.window_end)).where(
        wc.c.theme_id == TOTAL, wc.c.dimension == TOTAL, wc.c.value == TOTAL
    )
    with engine.connect() as conn:
        first, last = conn.execute(stmt).one()
    return utc(first), utc(last)


def stats(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (("feedback", feedback_t), ("themes", themes_t), ("alerts", alerts_t))
        }
    first, last = data_range(engine)
    return {**counts, "first_window": _iso(first), "last_window_end": _iso(last)}


# -- themes -----------------------------------------------------------------------------------------------
def theme_dict(row: Any) -> dict[str, Any]:
    return {
        "theme_id": row.theme_id,
        "label": row.label,
        "keywords": list(row.keywords or []),
        "quotes": list(row.quotes or []),
        "size": row.size,
        "empathy_category": row.empathy_category,
        "level": row.level,
        "parent_id": row.parent_id,
        "status": row.status,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def list_themes(
    engine: Engine,
    *,
    status: str | None = "active",
    level: str | None = None,
    empathy_category: str | None = None,
    empathy_only: bool = False,
    search: str | None = None,
    sort: str = "size",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Themes with keywords and quotes, a page of them and how many match."""
    where = []
    if status:
        where.append(themes_t.c.status == status)
    if level:
        where.append(themes_t.c.level == level)
    if empathy_category:
        where.append(themes_t.c.empathy_category == empathy_category)
    if empathy_only:
        where.append(themes_t.c.empathy_category.is_not(None))
    if search:
        where.append(func.lower(themes_t.c.label).like(f"%{_escape_like(search.lower())}%", escape="\\"))
    order = {
        "size": [desc(themes_t.c.size), themes_t.c.theme_id],
        "label": [themes_t.c.label, themes_t.c.theme_id],
        "updated": [desc(themes_t.c.updated_at), themes_t.c.theme_id],
    }[sort]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(themes_t).where(*where)).scalar_one()
        rows = conn.execute(select(themes_t).where(*where).order_by(*order).limit(limit).offset(offset)).all()
    return [theme_dict(r) for r in rows], total


def theme_labels(engine: Engine, theme_ids: list[str] | set[str]) -> dict[str, tuple[str, str | None]]:
    """theme_id -> (label, empathy_category) for the ids given (unknown ids are absent); an empathy category's
    pseudo-theme is named as its alerts name it."""
    out = {t: (category_label(c), c) for t in set(theme_ids) if (c := category_of(t))}
    ids = [t for t in set(theme_ids) if t not in SPECIAL_THEMES and t not in out]
    if not ids:
        return out
    stmt = select(themes_t.c.theme_id, themes_t.c.label, themes_t.c.empathy_category).where(
        themes_t.c.theme_id.in_(ids)
    )
    with engine.connect() as conn:
        return out | {r.theme_id: (r.label, r.empathy_category) for r in conn.execute(stmt)}


def get_theme(engine: Engine, theme_id: str, quotes: int = 5) -> dict[str, Any] | None:
    """One theme with its lineage (its own events and events naming it) and recent redacted quotes."""
    with engine.connect() as conn:
        row = conn.execute(select(themes_t).where(themes_t.c.theme_id == theme_id)).first()
        if row is None:
            return None
        mentioned = cast(events_t.c.related_theme_ids, String).like(f'%"{_escape_like(theme_id)}"%', escape="\\")
        events = conn.execute(
            select(events_t)
            .where(or_(events_t.c.theme_id == theme_id, mentioned))
            .order_by(events_t.c.at, events_t.c.event_id)
            .limit(500)
        ).all()
        recent = conn.execute(
            select(feedback_t.c.feedback_id, feedback_t.c.text, feedback_t.c.event_time, feedback_t.c.agent_id,
                   feedback_t.c.journey_stage, feedback_t.c.channel)
            .where(feedback_t.c.theme_id == theme_id)
            .order_by(desc(feedback_t.c.event_time))
            .limit(quotes)
        ).all()
    theme = theme_dict(row)
    theme["lineage"] = [
        {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "theme_id": e.theme_id,
            "related_theme_ids": list(e.related_theme_ids or []),
            "label": e.label,
            "reason": e.reason,
            "at": _iso(e.at),
        }
        for e in events
    ]
    theme["recent_feedback"] = [
        {"feedback_id": r.feedback_id, "text": r.text, "event_time": _iso(r.event_time), "agent_id": r.agent_id,
         "journey_stage": r.journey_stage, "channel": r.channel}
        for r in recent
    ]
    return theme


# -- trends -----------------------------------------------------------------------------------------------
def _bucket(moment: datetime, seconds: int | None) -> datetime:
    if not seconds:
        return moment
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % seconds, UTC)


def slice_trend(
    engine: Engine,
    theme_ids: list[str],
    since: datetime,
    until: datetime,
    dimension: str = TOTAL,
    value: str = TOTAL,
    bucket_seconds: int | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Per theme: points (window or bucket) with count, the slice's total and their share, zeros filled in.

    A coarse theme's count is its member themes' (those whose current parent it is), as its alerts count it.
    """
    members = select(themes_t.c.theme_id, themes_t.c.parent_id).where(
        themes_t.c.parent_id.in_(theme_ids), themes_t.c.level == "fine")
    totals: dict[datetime, int] = defaultdict(int)
    ends: dict[datetime, datetime] = {}
    counts: dict[str, dict[datetime, int]] = {t: defaultdict(int) for t in theme_ids}
    with engine.connect() as conn:
        member_of = {r.theme_id: r.parent_id for r in conn.execute(members)} if theme_ids else {}
        stmt = (
            select(wc.c.window_start, wc.c.window_end, wc.c.theme_id, wc.c.count)
            .where(
                wc.c.dimension == dimension,
                wc.c.value == value,
                wc.c.theme_id.in_(list(dict.fromkeys([*theme_ids, *member_of, TOTAL]))),
                wc.c.window_start >= utc(since),
                wc.c.window_start < utc(until),
            )
            .order_by(wc.c.window_start)
        )
        for r in conn.execute(stmt):
            key = _bucket(utc(r.window_start), bucket_seconds)
            ends[key] = max(ends.get(key, utc(r.window_end)), utc(r.window_end))
            if r.theme_id == TOTAL:
                totals[key] += r.count
            if r.theme_id in counts:
                counts[r.theme_id][key] += r.count
            if r.theme_id in member_of:
                counts[member_of[r.theme_id]][key] += r.count
    keys = sorted(ends)
    return {
        t: [
            {"start": _iso(k), "end": _iso(ends[k]), "count": counts[t][k], "total": totals[k],
             "share": _share(counts[t][k], totals[k])}
            for k in keys
        ]
        for t in theme_ids
    }


def top_themes(
    engine: Engine,
    since: datetime,
    until: datetime,
    limit: int = 5,
    dimension: str = TOTAL,
    value: str = TOTAL,
    empathy_only: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Themes ranked by feedback count in the range (one slice), and the slice's item count."""
    base = [wc.c.dimension == dimension, wc.c.value == value, wc.c.window_start >= utc(since),
            wc.c.window_start < utc(until)]
    total_stmt = select(func.coalesce(func.sum(wc.c.count), 0)).where(*base, wc.c.theme_id == TOTAL)
    n = func.sum(wc.c.count).label("n")
    stmt = select(wc.c.theme_id, n).where(*base, _is_theme(wc.c.theme_id))
    if empathy_only:
        stmt = stmt.join(themes_t, themes_t.c.theme_id == wc.c.theme_id).where(
            themes_t.c.empathy_category.is_not(None)
        )
    stmt = stmt.group_by(wc.c.theme_id).order_by(desc(n), wc.c.theme_id).limit(limit)
    with engine.connect() as conn:
        total = int(conn.execute(total_stmt).scalar_one())
        rows = conn.execute(stmt).all()
    labels = theme_labels(engine, [r.theme_id for r in rows])
    items = [
        {"theme_id": r.theme_id, "label": labels.get(r.theme_id, (r.theme_id, None))[0],
         "empathy_category": labels.get(r.theme_id, (None, None))[1], "count": int(r.n),
         "share": _share(int(r.n), total)}
        for r in rows
    ]
    return items, total


# -- breakdowns by dimension ------------------------------------------------------------------------------
def dimension_values(
    engine: Engine, dimension: str, since: datetime, until: datetime, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Values of one dimension (agents, stages...) with their feedback and empathy-complaint counts."""
    base = [wc.c.dimension == dimension, wc.c.window_start >= utc(since), wc.c.window_start < utc(until)]
    n = func.sum(wc.c.count).label("n")
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count(func.distinct(wc.c.value))).where(*base, wc.c.theme_id == TOTAL)
        ).scalar_one()
        rows = conn.execute(
            select(wc.c.value, n).where(*base, wc.c.theme_id == TOTAL)
            .group_by(wc.c.value).order_by(desc(n), wc.c.value).limit(limit).offset(offset)
        ).all()
        values = [r.value for r in rows]
        empathy = dict(
            conn.execute(
                select(wc.c.value, func.sum(wc.c.count)).where(*base, wc.c.theme_id == EMPATHY,
                                                               wc.c.value.in_(values)).group_by(wc.c.value)
            ).all()
        ) if values else {}
    items = [
        {"value": r.value, "total": int(r.n), "empathy_count": int(empathy.get(r.value, 0)),
         "empathy_share": _share(int(empathy.get(r.value, 0)), int(r.n))}
        for r in rows
    ]
    return items, total


def themes_by_dimension(
    engine: Engine,
    dimension: str,
    since: datetime,
    until: datetime,
    top: int = 5,
    limit: int = 50,
    offset: int = 0,
    theme_id: str | None = None,
    empathy_only: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Per value of a dimension (largest first, paged): its total and its top themes with count and share.

    With ``theme_id``: values ranked by that theme's share instead, each with that one theme.
    """
    values, total = dimension_values(engine, dimension, since, until, limit=limit if not theme_id else 100_000,
                                     offset=offset if not theme_id else 0)
    if not values:
        return [], total
    names = [v["value"] for v in values]
    base = [wc.c.dimension == dimension, wc.c.window_start >= utc(since), wc.c.window_start < utc(until),
            wc.c.value.in_(names) if not theme_id else True]
    n = func.sum(wc.c.count).label("n")
    asked = wc.c.theme_id.not_in(SPECIAL_THEMES) & (wc.c.theme_id == theme_id) if theme_id else _is_theme(wc.c.theme_id)
    stmt = select(wc.c.value, wc.c.theme_id, n).where(*base, asked)
    if empathy_only:
        stmt = stmt.join(themes_t, themes_t.c.theme_id == wc.c.theme_id).where(
            themes_t.c.empathy_category.is_not(None)
        )
    stmt = stmt.group_by(wc.c.value, wc.c.theme_id)
    per_value: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            per_value[r.value].append((r.theme_id, int(r.n)))
    labels = theme_labels(engine, {t for rows in per_value.values() for t, _ in rows})
    out = []
    for v in values:
        ranked = sorted(per_value.get(v["value"], []), key=lambda x: (-x[1], x[0]))[:top]
        out.append({
            **v,
            "themes": [
                {"theme_id": t, "label": labels.get(t, (t, None))[0],
                 "empathy_category": labels.get(t, (None, None))[1], "count": c, "share": _share(c, v["total"])}
                for t, c in ranked
            ],
        })
    if theme_id:
        out.sort(key=lambda v: (-(v["themes"][0]["share"] or 0) if v["themes"] else 0, v["value"]))
        out = out[offset : offset + limit]
    return out, total


def theme_matrix(
    engine: Engine, dimension: str, since: datetime, until: datetime, themes: int = 8
) -> dict[str, Any]:
    """A heat map: the top themes (rows) x every value of a dimension (columns), share of the value's items."""
    top, _ = top_themes(engine, since, until, limit=themes)
    values, _ = dimension_values(engine, dimension, since, until, limit=200)
    ids = [t["theme_id"] for t in top]
    names = [v["value"] for v in values]
    cells: dict[tuple[str, str], int] = {}
    if ids and names:
        stmt = (
            select(wc.c.theme_id, wc.c.value, func.sum(wc.c.count))
            .where(wc.c.dimension == dimension, wc.c.window_start >= utc(since), wc.c.window_start < utc(until),
                   wc.c.theme_id.in_(ids), wc.c.value.in_(names))
            .group_by(wc.c.theme_id, wc.c.value)
        )
        with engine.connect() as conn:
            cells = {(t, v): int(c) for t, v, c in conn.execute(stmt)}
    totals = {v["value"]: v["total"] for v in values}
    return {
        "dimension": dimension,
        "values": names,
        "totals": [totals[v] for v in names],
        "themes": [{"theme_id": t["theme_id"], "label": t["label"], "empathy_category": t["empathy_category"]}
                   for t in top],
        "counts": [[cells.get((t, v), 0) for v in names] for t in ids],
        "shares": [[_share(cells.get((t, v), 0), totals[v]) for v in names] for t in ids],
    }


# -- alerts -----------------------------------------------------------------------------------------------
def alert_dict(row: Any) -> dict[str, Any]:
    payload = dict(row.payload or {})
    return {
        **payload,
        "alert_id": row.alert_id,
        "theme_id": row.theme_id,
        "theme_label": row.theme_label,
        "empathy_category": row.empathy_category,
        "dimensions": dict(row.dimensions or {}),
        "window_start": _iso(row.window_start),
        "window_end": _iso(row.window_end),
        "observed": row.observed,
        "expected": row.expected,
        "ratio": row.ratio,
        "p_value": row.p_value,
        "z": row.z,
        "severity": row.severity,
        "quotes": list(row.quotes or []),
        "explanation": row.explanation,
        "created_at": _iso(row.created_at),
    }


def list_alerts(
    engine: Engine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    severities: list[str] | None = None,
    min_severity: str | None = None,
    dimension: str | None = None,
    value: str | None = None,
    theme_id: str | None = None,
    empathy_only: bool = False,
    after_created: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Alerts, newest window first. ``dimension``: ``__all__`` for whole-stream alerts, else alerts of that
    dimension (``value``: of that value); windows overlapping ``[since, until)``."""
    where = []
    if since is not None:
        where.append(alerts_t.c.window_end > utc(since))
    if until is not None:
        where.append(alerts_t.c.window_start < utc(until))
    allowed = set(severities or SEVERITIES)
    if min_severity:
        allowed &= set(SEVERITIES[SEVERITIES.index(min_severity):])
    if allowed != set(SEVERITIES):
        where.append(alerts_t.c.severity.in_(sorted(allowed)))
    if theme_id:
        where.append(alerts_t.c.theme_id == theme_id)
    if empathy_only:
        where.append(alerts_t.c.empathy_category.is_not(None))
    if after_created is not None:
        where.append(alerts_t.c.created_at > utc(after_created))
    if dimension == TOTAL:
        where.append(cast(alerts_t.c.dimensions, String).in_(["{}", "null"]))
    elif dimension:
        field = alerts_t.c.dimensions[dimension].as_string()
        where.append(field == value if value is not None else field.is_not(None))
    elif value is not None:
        raise ValueError("value needs a dimension")
    stmt = select(alerts_t).where(and_(True, *where))
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = conn.execute(
            stmt.order_by(desc(alerts_t.c.window_end), desc(alerts_t.c.created_at), alerts_t.c.alert_id)
            .limit(limit).offset(offset)
        ).all()
    return [alert_dict(r) for r in rows], total


def get_alert(engine: Engine, alert_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(alerts_t).where(alerts_t.c.alert_id == alert_id)).first()
    return None if row is None else alert_dict(row)


def default_range(engine: Engine, days: float = 7.0) -> tuple[datetime, datetime]:
    """The last ``days`` of data in the store (or of the clock when the store is empty)."""
    _, last = data_range(engine)
    until = last or datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return until - timedelta(days=days), until
