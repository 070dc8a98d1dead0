"""API routes for score impact per theme and for interventions (include with ``app.include_router``).

- ``GET /api/impact/themes``: each theme's effect on the normalised score (0-100), overall or per window and per
  team / journey stage / agent / channel, ranked by the points of the average score it costs;
- ``GET /api/interventions``: the recorded interventions;
- ``GET /api/interventions/{name}/analysis``: difference in differences of the empathy-complaint rate, of any
  ``theme`` rates and of the score, each with its interval and a plain-language verdict;
- ``POST /api/interventions`` and ``DELETE /api/interventions/{name}``: only with ``allow_writes=True``.

Usage in create_api::

    from insights.api import impact_routes
    app.include_router(impact_routes.router(store), dependencies=[Depends(require_token)])
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError

from insights.api.params import ID_PATTERN, Dimension
from insights.impact import feedback_range, load_rows, score_impact, theme_labels
from insights.interventions import analyze_all
from insights.store.interventions import (
    NAME_PATTERN,
    add_intervention,
    delete_intervention,
    ensure_table,
    get_intervention,
    intervention_dict,
    list_interventions,
)

log = logging.getLogger(__name__)
MAX_RANGE_DAYS = 366
DEFAULT_IMPACT_DAYS = 30
_ID = ID_PATTERN
_DURATION = r"^[1-9][0-9]{0,4}[hd]$"


class RankBy(StrEnum):
    points_lost = "points_lost"
    effect = "effect"


class CesHighMeans(StrEnum):
    effort = "effort"
    ease = "ease"


class NewIntervention(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, max_length=200)
    started_at: datetime
    teams: list[Annotated[str, Field(pattern=_ID, max_length=200)]] = Field(default_factory=list, max_length=200)
    agents: list[Annotated[str, Field(pattern=_ID, max_length=200)]] = Field(default_factory=list, max_length=2000)
    description: str | None = Field(default=None, max_length=2000)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _duration(value: str | None) -> timedelta | None:
    if value is None:
        return None
    n, unit = int(value[:-1]), value[-1]
    delta = timedelta(days=n) if unit == "d" else timedelta(hours=n)
    if delta > timedelta(days=MAX_RANGE_DAYS):
        raise HTTPException(status_code=400, detail=f"periods may span at most {MAX_RANGE_DAYS} days")
    return delta


def router(store: Any, allow_writes: bool = False) -> APIRouter:
    """The impact and intervention routes over ``store`` (an InsightStore); writes only when ``allow_writes``."""
    api = APIRouter(prefix="/api")
    engine = store.engine
    try:
        ensure_table(engine)
    except OperationalError:  # the store is down: the API still starts, and its routes answer 503 until it is up
        log.warning("interventions table not checked: the store is unreachable")

    @api.get("/impact/themes", tags=["impact"])
    def impact_themes(
        since: Annotated[datetime | None, Query(description="Start (ISO 8601; default: UNTIL - 30 days)")] = None,
        until: Annotated[datetime | None, Query(description="End (ISO 8601; default: the newest feedback)")] = None,
        by: Annotated[Dimension | None, Query(description="Split by this dimension")] = None,
        window: Annotated[str | None, Query(pattern=_DURATION, description="Split by window, e.g. 7d, 24h")] = None,
        min_count: Annotated[int, Query(ge=2, le=100_000, description="Fewest scored items with a theme")] = 20,
        rank_by: RankBy = RankBy.points_lost,
        ces_high_means: CesHighMeans = CesHighMeans.effort,
        top: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        """Each theme's effect on the score (0-100, higher is better): with vs without, Welch 95% CI, detractors."""
        since, until = _utc(since), _utc(until)
        if until is None:
            last = feedback_range(engine)[1]
            until = (last + timedelta(microseconds=1)) if last else datetime.now(UTC)
        since = since or until - timedelta(days=DEFAULT_IMPACT_DAYS)
        if since >= until:
            raise HTTPException(status_code=400, detail="since must be before until")
        if until - since > timedelta(days=MAX_RANGE_DAYS):
            raise HTTPException(status_code=400, detail=f"the range may span at most {MAX_RANGE_DAYS} days")
        win = _duration(window)
        if win is not None and (until - since) / win > 400:
            raise HTTPException(status_code=400, detail="at most 400 windows: use a longer window")
        rows = load_rows(engine, since, until, scored_only=True)
        groups = score_impact(rows, by=by.value if by else None, window=win, labels=theme_labels(engine),
                              min_count=min_count, rank_by=rank_by.value, ces_high_means=ces_high_means.value)
        out = []
        for g in groups:
            d = g.as_dict()
            d["themes"] = d["themes"][:top]
            out.append(d)
        return {"since": since.isoformat(), "until": until.isoformat(), "scored": len(rows), "scale": "0-100",
                "ces_high_means": ces_high_means.value, "groups": out}

    @api.get("/interventions", tags=["interventions"])
    def interventions() -> dict[str, Any]:
        """The recorded interventions, oldest start first."""
        items = [intervention_dict(r) for r in list_interventions(engine)]
        return {"items": items, "total": len(items)}

    @api.get("/interventions/{name}/analysis", tags=["interventions"])
    def intervention_analysis(
        name: Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=200)],
        theme: Annotated[list[str] | None, Query(max_length=20, description="Also analyse these themes' rates")] = None,
        before: Annotated[str | None, Query(pattern=_DURATION, description="Period before the start, e.g. 28d")] = None,
        after: Annotated[str | None, Query(pattern=_DURATION, description="Period after (default: as before)")] = None,
        unit: Annotated[str, Query(pattern=_DURATION, description="Bootstrap time unit")] = "1d",
        ces_high_means: CesHighMeans = CesHighMeans.effort,
        series: Annotated[bool, Query(description="Include the per-unit series (for charts)")] = False,
    ) -> dict[str, Any]:
        """Difference in differences against the teams without the intervention, with verdicts."""
        record = get_intervention(engine, name)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no intervention named {name!r}")
        themes = list(theme or [])
        for t in themes:
            if not t or len(t) > 64 or any(ord(c) < 32 for c in t):
                raise HTTPException(status_code=422, detail="theme ids are 1-64 printable characters")
        before_d, after_d = _duration(before), _duration(after)
        after_d = after_d or before_d
        unit_d = _duration(unit) or timedelta(days=1)
        since = record.started_at - (before_d or timedelta(days=90))
        until = record.started_at + (after_d or timedelta(days=90))
        rows = load_rows(engine, since, until)
        others = [r for r in list_interventions(engine) if r.name != record.name]
        results = analyze_all(rows, record, themes, theme_labels(engine), others=others, before=before_d,
                              after=after_d, unit=unit_d, ces_high_means=ces_high_means.value)
        dicts = [r.as_dict() for r in results]
        if not series:
            for d in dicts:
                d.pop("series", None)
        return {"intervention": intervention_dict(record), "results": dicts}

    if allow_writes:

        @api.post("/interventions", tags=["interventions"], status_code=201)
        def create_intervention(body: NewIntervention) -> dict[str, Any]:
            """Record an intervention (409 when the name is taken)."""
            if not body.teams and not body.agents:
                raise HTTPException(status_code=422, detail="an intervention applies to at least one team or agent")
            try:
                record = add_intervention(engine, body.name, body.started_at, body.teams, body.agents,
                                          body.description)
            except ValueError as exc:
                raise HTTPException(status_code=409, detail=str(exc)) from exc
            return intervention_dict(record)

        @api.delete("/interventions/{name}", tags=["interventions"], status_code=204)
        def remove_intervention(name: Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=200)]) -> None:
            if not delete_intervention(engine, name):
                raise HTTPException(status_code=404, detail=f"no intervention named {name!r}")

    return api
