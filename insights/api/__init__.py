"""The read API (FastAPI) and the dashboard page over the insight store."""

from insights.api.app import create_api

__all__ = ["create_api"]
