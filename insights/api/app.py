"""Read-only HTTP API over the insight store (OpenAPI at /docs) and the dashboard page at /.

Every /api route needs ``Authorization: Bearer <API_TOKEN>`` when API_TOKEN is set (401 otherwise); /health, the
page and its static files do not (the page holds no data: it asks for the token and sends it with each call).
Parameters are validated: malformed ones are 422, well-formed but unusable ones (until before since, a range
longer than MAX_RANGE_DAYS) are 400, unknown ids 404; a database error is 400 (bad data) or 503 (unreachable),
never a 500 with a stack trace. Queries live in :mod:`insights.store.queries` and bind every value.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from insights.api import impact_routes
from insights.api.params import ID_PATTERN, Dimension
from insights.settings import Settings, get_settings
from insights.store import InsightStore
from insights.store import queries as q
from insights.trends.model import category_label, category_of

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 7
MAX_PAGE = 200
MAX_OFFSET = 100_000
_bearer = HTTPBearer(auto_error=False)

_ID = ID_PATTERN
_BUCKET = r"^[1-9][0-9]{0,5}[mhd]$"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ThemeSort(StrEnum):
    size = "size"
    label = "label"
    updated = "updated"


class ThemeStatus(StrEnum):
    active = "active"
    retired = "retired"
    merged = "merged"
    all = "all"


IdQuery = Annotated[str | None, Query(pattern=_ID, max_length=200)]
Since = Annotated[datetime | None, Query(description="Start of the range (ISO 8601; default: UNTIL - 7 days)")]
Until = Annotated[datetime | None, Query(description="End of the range (ISO 8601; default: the newest data)")]
Bucket = Annotated[str | None, Query(pattern=_BUCKET, description="Sum windows into buckets, e.g. 6h, 1d")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _bad(detail: str) -> HTTPException:
    return HTTPException(status_code=400, detail=detail)


def _page(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _utc(moment: datetime | None) -> datetime | None:
    return q.utc(moment)


def _bucket_seconds(bucket: str | None) -> int | None:
    if not bucket:
        return None
    unit = {"m": 60, "h": 3600, "d": 86400}[bucket[-1]]
    seconds = int(bucket[:-1]) * unit
    if seconds > 31 * 86400:
        raise _bad("bucket must be at most 31d")
    return seconds


def _slice(dimension: Dimension | None, value: str | None) -> tuple[str, str]:
    if dimension is None:
        if value is not None:
            raise _bad("value needs a dimension")
        return q.TOTAL, q.TOTAL
    if value is None:
        raise _bad("dimension needs a value")
    return dimension.value, value


def create_api(settings: Settings | None = None, store: InsightStore | None = None) -> FastAPI:
    """The API and dashboard over ``store`` (default: the store at settings.database_url)."""
    settings = settings or get_settings()
    store = store or InsightStore.from_url(settings.database_url)
    app = FastAPI(
        title="cx-insights",
        version="0.2.0",
        description=(
            "Themes, trends and alerts from customer feedback. Read-only. Times are UTC (ISO 8601). "
            "Lists are paged (`limit`, `offset`; the answer says `total`). When `API_TOKEN` is set every "
            "`/api` route needs `Authorization: Bearer <token>`."
        ),
    )
    app.state.store = store

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        token = settings.api_token
        if not token:
            return
        given = credentials.credentials if credentials is not None else ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    def get_store(request: Request) -> InsightStore:
        return request.app.state.store

    def time_range(since: Since = None, until: Until = None, s: InsightStore = Depends(get_store)):
        since, until = _utc(since), _utc(until)
        try:
            if until is None:
                until = q.default_range(s.engine)[1] if since is None else min(
                    since + timedelta(days=DEFAULT_RANGE_DAYS), q.default_range(s.engine)[1]
                )
                if since is not None and until <= since:
                    until = since + timedelta(days=DEFAULT_RANGE_DAYS)
            if since is None:
                since = until - timedelta(days=DEFAULT_RANGE_DAYS)
        except OverflowError as exc:
            raise _bad("since/until out of range") from exc
        if since >= until:
            raise _bad("since must be before until")
        if until - since > timedelta(days=MAX_RANGE_DAYS):
            raise _bad(f"the range may span at most {MAX_RANGE_DAYS} days")
        return since, until

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
        log.info("rejected a parameter the database could not use: %s", exc.orig)
        return JSONResponse({"detail": "a parameter has a value the database cannot use"}, status_code=400)

    @app.exception_handler(OperationalError)
    async def _db_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("store unavailable: %s", exc.orig)
        return JSONResponse({"detail": "the insight store is unavailable"}, status_code=503)

    @app.exception_handler(DBAPIError)
    async def _db_error(_request: Request, exc: DBAPIError) -> JSONResponse:
        log.error("database error: %s", exc.orig)
        return JSONResponse({"detail": "database error"}, status_code=503)

    @app.middleware("http")
    async def _no_store(request: Request, call_next):
        response = await call_next(request)
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    # -- unauthenticated: health and the page ---------------------------------------------------------------
    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness: the process answers (no token needed)."""
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    api = APIRouter(prefix="/api", dependencies=[Depends(require_token)])

    @api.get("/stats", tags=["meta"])
    def stats(s: InsightStore = Depends(get_store)) -> dict[str, Any]:
        """How much the store holds and the time span of its windows."""
        return q.stats(s.engine)

    # -- themes -------------------------------------------------------------------------------------------
    @api.get("/themes", tags=["themes"])
    def themes(
        status: ThemeStatus = ThemeStatus.active,
        level: Annotated[str | None, Query(pattern=r"^(coarse|fine)$")] = None,
        empathy_category: IdQuery = None,
        empathy_only: bool = False,
        q_: Annotated[str | None, Query(alias="q", pattern=_ID, max_length=100, description="Label contains")] = None,
        sort: ThemeSort = ThemeSort.size,
        limit: Limit = 50,
        offset: Offset = 0,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """Themes with keywords and representative quotes (largest first by default), paged."""
        items, total = q.list_themes(
            s.engine, status=None if status is ThemeStatus.all else status.value, level=level,
            empathy_category=empathy_category, empathy_only=empathy_only, search=q_, sort=sort.value,
            limit=limit, offset=offset,
        )
        return _page(items, total, limit, offset)

    @api.get("/themes/top", tags=["themes"])
    def top_themes(
        rng: tuple[datetime, datetime] = Depends(time_range),
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        dimension: Dimension | None = None,
        value: IdQuery = None,
        empathy_only: bool = False,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """Themes ranked by feedback count in a time range, over the whole stream or one slice."""
        dim, val = _slice(dimension, value)
        items, total = q.top_themes(s.engine, *rng, limit=limit, dimension=dim, value=val, empathy_only=empathy_only)
        return {"since": rng[0], "until": rng[1], "dimension": dim, "value": val, "total": total, "items": items}

    @api.get("/themes/{theme_id}", tags=["themes"])
    def theme(
        theme_id: Annotated[str, PathParam(pattern=_ID, max_length=200)],
        quotes: Annotated[int, Query(ge=0, le=20, description="Recent redacted feedback to include")] = 5,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """One theme: label, keywords, quotes, lineage (births, merges, splits, renames, retirements), recent
        feedback."""
        found = q.get_theme(s.engine, theme_id, quotes=quotes)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no theme {theme_id!r}")
        return found

    @api.get("/themes/{theme_id}/trend", tags=["trends"])
    def theme_trend(
        theme_id: Annotated[str, PathParam(pattern=_ID, max_length=200)],
        rng: tuple[datetime, datetime] = Depends(time_range),
        bucket: Bucket = None,
        dimension: Dimension | None = None,
        value: IdQuery = None,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """A theme's count and share per window (or bucket) over the whole stream or one slice (e.g.
        dimension=agent_id&value=a-07). Use theme_id ``__empathy__`` for all empathy complaints together, whatever
        their theme."""
        dim, val = _slice(dimension, value)
        seconds = _bucket_seconds(bucket)
        if theme_id == q.EMPATHY:
            label, empathy = q.EMPATHY_LABEL, "all"
        elif category_of(theme_id):  # one empathy category across all themes, as its alerts name it
            empathy = category_of(theme_id)
            label = category_label(empathy)
        else:
            known = q.theme_labels(s.engine, [theme_id])
            if theme_id not in known:
                raise HTTPException(status_code=404, detail=f"no theme {theme_id!r}")
            label, empathy = known[theme_id]
        points = q.slice_trend(s.engine, [theme_id], *rng, dimension=dim, value=val, bucket_seconds=seconds)
        return {"theme_id": theme_id, "label": label, "empathy_category": empathy, "since": rng[0],
                "until": rng[1], "dimension": dim, "value": val, "bucket": bucket, "points": points[theme_id]}

    @api.get("/trends", tags=["trends"])
    def trends(
        rng: tuple[datetime, datetime] = Depends(time_range),
        theme_id: Annotated[list[str] | None, Query(max_length=10, description="Themes (default: the top)")] = None,
        top: Annotated[int, Query(ge=1, le=10)] = 5,
        bucket: Bucket = None,
        empathy_only: bool = False,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """Trends of several themes at once: the ``top`` themes of the range, or those named by ``theme_id``."""
        seconds = _bucket_seconds(bucket)
        if theme_id:
            if any(not re.match(_ID, t) for t in theme_id):
                raise HTTPException(status_code=422, detail="theme_id: invalid characters or length")
            labels = q.theme_labels(s.engine, theme_id)
            chosen = [{"theme_id": t, "label": labels.get(t, (t, None))[0],
                       "empathy_category": labels.get(t, (None, None))[1]} for t in dict.fromkeys(theme_id)]
        else:
            chosen, _ = q.top_themes(s.engine, *rng, limit=top, empathy_only=empathy_only)
        points = q.slice_trend(s.engine, [c["theme_id"] for c in chosen], *rng, bucket_seconds=seconds)
        series = [{"theme_id": c["theme_id"], "label": c["label"], "empathy_category": c["empathy_category"],
                   "points": points[c["theme_id"]]} for c in chosen]
        return {"since": rng[0], "until": rng[1], "bucket": bucket, "series": series}

    @api.get("/empathy/share", tags=["trends"])
    def empathy_share(
        rng: tuple[datetime, datetime] = Depends(time_range),
        bucket: Bucket = None,
        dimension: Dimension | None = None,
        value: IdQuery = None,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """The share of feedback in any empathy theme (rude, robotic, didn't listen, dismissive, no follow-up,
        rushed) per window or bucket, over the whole stream or one slice."""
        dim, val = _slice(dimension, value)
        points = q.slice_trend(s.engine, [q.EMPATHY], *rng, dimension=dim, value=val,
                               bucket_seconds=_bucket_seconds(bucket))
        return {"since": rng[0], "until": rng[1], "dimension": dim, "value": val, "bucket": bucket,
                "points": points[q.EMPATHY]}

    # -- breakdowns ---------------------------------------------------------------------------------------
    @api.get("/dimensions/{dimension}", tags=["breakdowns"])
    def dimension_values(
        dimension: Dimension,
        rng: tuple[datetime, datetime] = Depends(time_range),
        limit: Limit = 50,
        offset: Offset = 0,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """The agents (teams, journey stages, channels) seen in the range, most feedback first, with their
        empathy-complaint share."""
        items, total = q.dimension_values(s.engine, dimension.value, *rng, limit=limit, offset=offset)
        return _page(items, total, limit, offset) | {"since": rng[0], "until": rng[1], "dimension": dimension}

    @api.get("/dimensions/{dimension}/themes", tags=["breakdowns"])
    def themes_by_dimension(
        dimension: Dimension,
        rng: tuple[datetime, datetime] = Depends(time_range),
        top: Annotated[int, Query(ge=1, le=20, description="Themes per value")] = 5,
        theme_id: IdQuery = None,
        empathy_only: bool = False,
        limit: Limit = 50,
        offset: Offset = 0,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """Top themes per agent / team / journey stage / channel (values with most feedback first; with
        ``theme_id``: values where that theme's share is highest first)."""
        items, total = q.themes_by_dimension(s.engine, dimension.value, *rng, top=top, limit=limit, offset=offset,
                                             theme_id=theme_id, empathy_only=empathy_only)
        return _page(items, total, limit, offset) | {"since": rng[0], "until": rng[1], "dimension": dimension}

    @api.get("/heatmap", tags=["breakdowns"])
    def heatmap(
        rng: tuple[datetime, datetime] = Depends(time_range),
        dimension: Dimension = Dimension.journey_stage,
        themes: Annotated[int, Query(ge=1, le=30)] = 8,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """Theme x dimension (default: journey stage) matrix of counts and shares of each column's feedback."""
        return q.theme_matrix(s.engine, dimension.value, *rng, themes=themes) | {"since": rng[0], "until": rng[1]}

    # -- alerts -------------------------------------------------------------------------------------------
    @api.get("/alerts", tags=["alerts"])
    def alerts(
        since: Since = None,
        until: Until = None,
        severity: Annotated[list[Severity] | None, Query(max_length=4)] = None,
        min_severity: Severity | None = None,
        dimension: Annotated[str | None, Query(pattern=r"^(agent_id|team|journey_stage|channel|__all__)$",
                                               description="__all__: whole-stream alerts")] = None,
        value: IdQuery = None,
        theme_id: IdQuery = None,
        empathy_only: bool = False,
        created_after: Annotated[datetime | None, Query(description="Only alerts stored after this instant")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        s: InsightStore = Depends(get_store),
    ) -> dict[str, Any]:
        """Alerts, newest window first, filtered by time (window overlaps [since, until)), severity, slice and
        theme; each with its evidence (observed, expected, ratio, p-value, z, window) and redacted quotes."""
        since, until = _utc(since), _utc(until)
        if since and until:
            if since >= until:
                raise _bad("since must be before until")
            if until - since > timedelta(days=MAX_RANGE_DAYS):
                raise _bad(f"the range may span at most {MAX_RANGE_DAYS} days")
        if value is not None and (dimension is None or dimension == q.TOTAL):
            raise _bad("value needs a dimension")
        items, total = q.list_alerts(
            s.engine, since=since, until=until, severities=[x.value for x in severity or []] or None,
            min_severity=min_severity.value if min_severity else None, dimension=dimension, value=value,
            theme_id=theme_id, empathy_only=empathy_only, after_created=_utc(created_after), limit=limit,
            offset=offset,
        )
        return _page(items, total, limit, offset) | {"now": datetime.now(UTC)}

    @api.get("/alerts/{alert_id}", tags=["alerts"])
    def alert(
        alert_id: Annotated[str, PathParam(pattern=_ID, max_length=200)], s: InsightStore = Depends(get_store)
    ) -> dict[str, Any]:
        """One alert with its evidence."""
        found = q.get_alert(s.engine, alert_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no alert {alert_id!r}")
        return found

    app.include_router(api)
    app.include_router(impact_routes.router(store), dependencies=[Depends(require_token)])
    return app
