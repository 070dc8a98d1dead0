"""The ``interventions`` table: what was done (coaching, a process fix), from when, and for which teams or agents.

A user records an intervention by name (``insights intervention add``); the analysis in
:mod:`insights.interventions` compares the treated slice with the untreated teams before and after ``started_at``.

Alembic revision 0004 creates the table; :func:`ensure_table` is kept as an idempotent no-op for stores made
before it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, select
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:@/+-]{0,199}$"
_NAME = re.compile(NAME_PATTERN)


class InterventionRecord(SQLModel, table=True):
    """One recorded intervention: its name, start, the teams and agents it applies to."""

    __tablename__ = "interventions"

    name: str = Field(primary_key=True, max_length=200)
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    teams: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    agents: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ensure_table(engine: Engine) -> None:
    """Create the table where it is missing (no-op when it exists)."""
    InterventionRecord.metadata.create_all(engine, tables=[InterventionRecord.__table__])


def validate_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise ValueError(
            f"invalid intervention name {name!r}: 1-200 characters, letters, digits, space and ._:@/+- "
            "(starting with a letter or digit)"
        )
    return name


def add_intervention(
    engine: Engine,
    name: str,
    started_at: datetime,
    teams: list[str] | tuple[str, ...] = (),
    agents: list[str] | tuple[str, ...] = (),
    description: str | None = None,
    replace: bool = False,
) -> InterventionRecord:
    """Record an intervention; ``replace`` overwrites one of the same name, else a duplicate is a ValueError."""
    name = validate_name(name)
    teams = sorted({t.strip() for t in teams if t and t.strip()})
    agents = sorted({a.strip() for a in agents if a and a.strip()})
    if not teams and not agents:
        raise ValueError("an intervention applies to at least one team or agent")
    ensure_table(engine)
    with Session(engine) as session:
        existing = session.get(InterventionRecord, name)
        if existing is not None and not replace:
            raise ValueError(f"an intervention named {name!r} exists (started {_utc(existing.started_at):%Y-%m-%d})")
        record = existing or InterventionRecord(name=name, started_at=_utc(started_at), created_at=datetime.now(UTC))
        record.started_at = _utc(started_at)
        record.teams = list(teams)
        record.agents = list(agents)
        record.description = description
        session.add(record)
        session.commit()
        session.refresh(record)
        session.expunge(record)
    record.started_at = _utc(record.started_at)
    record.created_at = _utc(record.created_at)
    return record


def list_interventions(engine: Engine) -> list[InterventionRecord]:
    """Every recorded intervention, oldest start first."""
    ensure_table(engine)
    with Session(engine) as session:
        rows = [r[0] for r in session.exec(select(InterventionRecord).order_by(InterventionRecord.started_at)).all()]
        for r in rows:
            session.expunge(r)
    for r in rows:
        r.started_at = _utc(r.started_at)
        r.created_at = _utc(r.created_at)
    return rows


def get_intervention(engine: Engine, name: str) -> InterventionRecord | None:
    ensure_table(engine)
    with Session(engine) as session:
        record = session.get(InterventionRecord, name)
        if record is None:
            return None
        session.expunge(record)
    record.started_at = _utc(record.started_at)
    record.created_at = _utc(record.created_at)
    return record


def delete_intervention(engine: Engine, name: str) -> bool:
    """Forget an intervention; False when there was none of that name."""
    ensure_table(engine)
    with Session(engine) as session:
        record = session.get(InterventionRecord, name)
        if record is None:
            return False
        session.delete(record)
        session.commit()
    return True


def intervention_dict(record: InterventionRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "started_at": _utc(record.started_at).isoformat(),
        "teams": list(record.teams or []),
        "agents": list(record.agents or []),
        "description": record.description,
        "created_at": _utc(record.created_at).isoformat(),
    }
