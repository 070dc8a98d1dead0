"""Reads and idempotent writes of the insight store.

Every write is an upsert by natural key, so replaying a topic or restarting after a crash converges to the same
rows. Only SQLite and PostgreSQL are supported (both have INSERT ... ON CONFLICT).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from insights.lineage import merges, survivor
from insights.store.db import create_db_engine, init_db
from insights.store.models import AlertRecord, FeedbackRecord, ThemeEventRecord, ThemeRecord, WindowCount

CHUNK_ROWS = 500
ASSIGNMENT_COLUMNS = ("theme_id", "coarse_theme_id", "empathy_category", "similarity")


MAX_MERGE_CHAIN = 16  # links of merges (a into b, b into c...) followed when storing feedback


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_ts(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class InsightStore:
    """The store behind one engine; safe to share between threads (one session per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {engine.dialect.name!r}: use SQLite or PostgreSQL")

    @classmethod
    def from_url(cls, url: str, create: bool = True) -> InsightStore:
        engine = create_db_engine(url)
        if create:
            init_db(engine)
        return cls(engine)

    # -- writes -------------------------------------------------------------------------------------------
    def _upsert(
        self, model: type[SQLModel], rows: Sequence[dict[str, Any]], keys: Sequence[str], update: Iterable[str]
    ) -> None:
        if not rows:
            return
        table = model.__table__  # type: ignore[attr-defined]
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        # The same key twice in one statement is an error in PostgreSQL: the last version wins.
        unique = list({tuple(r[k] for k in keys): r for r in rows}.values())
        update = list(update)
        # executemany of one cached statement per set of columns (SQLAlchemy batches it as insertmanyvalues):
        # compiling a multi-row VALUES clause per chunk cost far more than the database work.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in unique:
            groups.setdefault(tuple(r), []).append(r)
        with self.engine.begin() as conn:
            for group in groups.values():
                stmt = insert(table)
                if update:
                    stmt = stmt.on_conflict_do_update(
                        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
                    )
                else:
                    stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
                for start in range(0, len(group), CHUNK_ROWS):
                    conn.execute(stmt, group[start : start + CHUNK_ROWS])

    def upsert_feedback(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace feedback rows (dicts with FeedbackRecord's columns); received_at is kept.

        A row assigned to a theme the store already knows was merged is stored under the theme that absorbed it:
        a worker assigns with its copy of the registry, which follows cx.themes a moment behind the learner.
        """
        now = _now()
        survivors = self._merged_into({r["theme_id"] for r in rows if r.get("theme_id")})
        prepared = [
            {**r, "theme_id": survivors.get(r.get("theme_id"), r.get("theme_id")),
             "received_at": r.get("received_at") or now, "updated_at": now}
            for r in rows
        ]
        columns = [c.name for c in FeedbackRecord.__table__.columns if c.name not in ("feedback_id", "received_at")]
        self._upsert(FeedbackRecord, self._with_current_parents(prepared), ["feedback_id"], columns)

    def update_assignments(self, updates: Sequence[dict[str, Any]]) -> int:
        """Change the theme of stored feedback (a discovery round placed earlier outliers); returns rows changed."""
        if not updates:
            return 0
        table = FeedbackRecord.__table__  # type: ignore[attr-defined]
        # One statement, executed many times (a discovery round places thousands of items at once): a
        # statement per row cost the learner more CPU than the clustering.
        stmt = (
            table.update()
            .where(table.c.feedback_id == bindparam("key"))
            .values({c: bindparam(f"new_{c}") for c in (*ASSIGNMENT_COLUMNS, "updated_at")})
        )
        now = _now()
        # the last update of an item wins, as one by one
        latest = {u["feedback_id"]: u for u in self._with_current_parents(updates)}
        params = [
            {"key": fid, "new_updated_at": now} | {f"new_{c}": u.get(c) for c in ASSIGNMENT_COLUMNS}
            for fid, u in latest.items()
        ]
        changed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(params), CHUNK_ROWS):
                changed += conn.execute(stmt, params[start : start + CHUNK_ROWS]).rowcount or 0
        return changed

    def apply_theme_events(self, messages: Sequence[dict[str, Any]]) -> None:
        """Store theme state and lineage from cx.themes messages (schemas/theme_event.v1.json)."""
        if not messages:
            return
        themes, events = [], []
        for m in messages:
            t = m["theme"]
            themes.append(
                {
                    "theme_id": m["theme_id"],
                    "label": t.get("label") or m["theme_id"],
                    "keywords": list(t.get("keywords") or []),
                    "quotes": list(t.get("quotes") or []),
                    "size": int(t.get("size") or 0),
                    "empathy_category": t.get("empathy_category"),
                    "level": t.get("level") or "fine",
                    "parent_id": t.get("parent_id"),
                    "status": t.get("status") or "active",
                    "created_at": _parse_ts(t.get("created_at")),
                    "updated_at": _parse_ts(t.get("updated_at")) or _parse_ts(m["at"]),
                }
            )
            events.append(
                {
                    "event_id": m["event_id"],
                    "theme_id": m["theme_id"],
                    "event_type": m["event_type"],
                    "related_theme_ids": list(m.get("related_theme_ids") or []),
                    "reason": m.get("reason"),
                    "label": t.get("label"),
                    "at": _parse_ts(m["at"]),
                }
            )
        parents = {t["theme_id"]: t["parent_id"] for t in themes if t["level"] == "fine"}  # the latest of each
        before = self._parents(set(parents))
        theme_cols = [c.name for c in ThemeRecord.__table__.columns if c.name not in ("theme_id", "created_at")]
        self._upsert(ThemeRecord, themes, ["theme_id"], theme_cols)
        self._upsert(ThemeEventRecord, events, ["event_id"], [])
        self._move_to_survivors(merges(messages))
        self._follow_parents({tid for tid, parent in parents.items() if tid not in before or before[tid] != parent})

    def _with_current_parents(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` (with ``theme_id``) with the coarse parent the store knows for their theme: a worker or learner
        a moment behind cx.themes may carry an old one. Rows of themes the store has not seen keep theirs."""
        parents = self._parents({r["theme_id"] for r in rows if r.get("theme_id")})
        return [{**r, "coarse_theme_id": parents[r["theme_id"]]} if r.get("theme_id") in parents else r for r in rows]

    def _parents(self, theme_ids: set[str]) -> dict[str, str | None]:
        """The coarse parent the store knows for each of ``theme_ids`` (themes it has not seen yet are left out)."""
        if not theme_ids:
            return {}
        themes = ThemeRecord.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(themes.c.theme_id, themes.c.parent_id).where(themes.c.theme_id.in_(sorted(theme_ids)))
            ).all()
        return {tid: parent for tid, parent in rows}

    def _follow_parents(self, theme_ids: set[str]) -> None:
        """Give the stored feedback of ``theme_ids`` their theme's current coarse parent.

        Why: a discovery round regroups the coarse level, and a dashboard that rolls feedback up by
        ``coarse_theme_id`` would otherwise keep each item under the coarse theme of the day it arrived, some of
        them retired. The theme table is the truth: rows written before their theme's event are fixed here, rows
        written after it take the parent in :meth:`upsert_feedback`. Called only for themes whose parent changed
        (a theme's growth events would otherwise rescan its rows), and writes only rows that differ.
        """
        if not theme_ids:
            return
        feedback, themes = FeedbackRecord.__table__, ThemeRecord.__table__  # type: ignore[attr-defined]
        parent = select(themes.c.parent_id).where(themes.c.theme_id == feedback.c.theme_id).scalar_subquery()
        stmt = (
            feedback.update()
            .where(feedback.c.theme_id.in_(sorted(theme_ids)), feedback.c.coarse_theme_id.is_distinct_from(parent))
            .values(coarse_theme_id=parent, updated_at=_now())
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def _merged_into(self, theme_ids: set[str]) -> dict[str, str]:
        """The surviving theme of each of ``theme_ids`` that was merged (chains followed); one query per link."""
        themes, events = ThemeRecord.__table__, ThemeEventRecord.__table__  # type: ignore[attr-defined]
        found: dict[str, str] = {}
        pending = set(theme_ids)
        with self.engine.connect() as conn:
            for _ in range(MAX_MERGE_CHAIN):
                if not pending:
                    break
                rows = conn.execute(
                    select(events.c.theme_id, events.c.related_theme_ids)
                    .join(themes, themes.c.theme_id == events.c.theme_id)
                    .where(events.c.event_type == "merge", themes.c.status == "merged",
                           events.c.theme_id.in_(sorted(pending)))
                    .order_by(events.c.at)
                ).all()
                step = {tid: related[0] for tid, related in rows if related}  # the latest merge of each wins
                found.update(step)
                pending = set(step.values()) - set(found)
        return {tid: survivor(found, tid) for tid in theme_ids & set(found)}

    def _move_to_survivors(self, merged: Sequence[tuple[str, str]]) -> None:
        """Give a merged theme's stored feedback the theme that absorbed it, as the model now assigns it.

        Why: the impact report, the theme pages and the rankings group feedback by ``theme_id``; left alone, a merged
        theme's items would stay a second row under its old label, and the survivor would look half its size. The
        merge event in ``theme_events`` keeps where they came from. In event order, so a chain (a into b, b into c)
        ends in c. The rows take the survivor's coarse parent too.
        """
        if not merged:
            return
        table, themes = FeedbackRecord.__table__, ThemeRecord.__table__  # type: ignore[attr-defined]
        parent = select(themes.c.parent_id).where(themes.c.theme_id == bindparam("survivor")).scalar_subquery()
        stmt = (
            table.update()
            .where(table.c.theme_id == bindparam("absorbed"))
            .values(theme_id=bindparam("survivor"), coarse_theme_id=func.coalesce(parent, table.c.coarse_theme_id),
                    updated_at=bindparam("now"))
        )
        now = _now()
        with self.engine.begin() as conn:
            for absorbed, survivor in merged:
                conn.execute(stmt, {"absorbed": absorbed, "survivor": survivor, "now": now})

    def upsert_window_counts(self, rows: Sequence[dict[str, Any]]) -> None:
        """Replace window counts (each row carries the absolute count, so replays converge)."""
        self._upsert(
            WindowCount, rows, ["window_start", "theme_id", "dimension", "value"], ["window_end", "count", "total"]
        )

    def upsert_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Store alert messages (schemas/alert.v1.json); the same alert_id twice stays one row."""
        now = _now()
        rows = []
        for a in alerts:
            rows.append(
                {
                    "alert_id": a["alert_id"],
                    "theme_id": a.get("theme_id"),
                    "theme_label": a.get("theme_label"),
                    "empathy_category": a.get("empathy_category"),
                    "dimensions": dict(a.get("dimensions") or {}),
                    "window_start": _parse_ts(a["window_start"]),
                    "window_end": _parse_ts(a["window_end"]),
                    "observed": float(a["observed"]),
                    "expected": float(a["expected"]),
                    "ratio": float(a["ratio"]),
                    "p_value": a.get("p_value"),
                    "z": a.get("z"),
                    "severity": a["severity"],
                    "quotes": list(a.get("quotes") or []),
                    "explanation": a.get("explanation"),
                    "payload": dict(a),
                    "created_at": now,
                }
            )
        self._upsert(AlertRecord, rows, ["alert_id"], [])

    # -- reads --------------------------------------------------------------------------------------------
    def count(self, model: type[SQLModel] = FeedbackRecord) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(model)).one()[0])

    def get_feedback(self, feedback_id: str) -> FeedbackRecord | None:
        with Session(self.engine) as session:
            return session.get(FeedbackRecord, feedback_id)

    def feedback_texts(self) -> list[str]:
        with Session(self.engine) as session:
            return [row[0] for row in session.exec(select(FeedbackRecord.text)).all()]

    def themes(self, include_inactive: bool = False) -> list[ThemeRecord]:
        with Session(self.engine) as session:
            stmt = select(ThemeRecord).order_by(ThemeRecord.size.desc())
            if not include_inactive:
                stmt = stmt.where(ThemeRecord.status == "active")
            return [row[0] for row in session.exec(stmt).all()]

    def alerts(self, limit: int = 100) -> list[AlertRecord]:
        with Session(self.engine) as session:
            stmt = select(AlertRecord).order_by(AlertRecord.window_start.desc()).limit(limit)
            return [row[0] for row in session.exec(stmt).all()]
