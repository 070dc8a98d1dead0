"""Read-only HTTP API over the insight store; OpenAPI at /docs."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from insights.settings import Settings, get_settings
from insights.store import InsightStore

_bearer = HTTPBearer(auto_error=False)


def create_api(settings: Settings | None = None, store: InsightStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    store = store or InsightStore.from_url(settings.database_url)
    app = FastAPI(
        title="cx-insights",
        version="0.1.0",
        description="Themes, trends and alerts from customer feedback. Read-only.",
    )
    app.state.store = store

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        if settings.api_token and (credentials is None or credentials.credentials != settings.api_token):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    def get_store(request: Request) -> InsightStore:
        return request.app.state.store

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/themes", tags=["themes"], dependencies=[Depends(require_token)])
    def themes(s: InsightStore = Depends(get_store)) -> list[dict[str, Any]]:
        """Active themes, largest first, with keywords and quotes."""
        return [t.model_dump(mode="json") for t in s.themes()]

    @app.get("/api/alerts", tags=["alerts"], dependencies=[Depends(require_token)])
    def alerts(limit: int = Query(100, ge=1, le=1000), s: InsightStore = Depends(get_store)) -> list[dict[str, Any]]:
        """The most recent alerts."""
        return [a.payload for a in s.alerts(limit=limit)]

    @app.get("/api/stats", tags=["meta"], dependencies=[Depends(require_token)])
    def stats(s: InsightStore = Depends(get_store)) -> dict[str, int]:
        """How much the store holds."""
        from insights.store import AlertRecord, FeedbackRecord, ThemeRecord

        return {"feedback": s.count(FeedbackRecord), "themes": s.count(ThemeRecord), "alerts": s.count(AlertRecord)}

    return app
