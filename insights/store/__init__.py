"""The insight store (SQLModel): what dashboards, the API and BI tools read.

SQLite by default, PostgreSQL through ``DATABASE_URL``. Writes are idempotent upserts keyed by natural ids, so a
replay or a crash-restart never duplicates or loses a row.
"""

from insights.store.db import create_db_engine, init_db, normalise_url
from insights.store.interventions import InterventionRecord
from insights.store.models import AlertRecord, FeedbackRecord, ThemeEventRecord, ThemeRecord, WindowCount
from insights.store.repository import InsightStore

__all__ = [
    "AlertRecord",
    "FeedbackRecord",
    "InsightStore",
    "InterventionRecord",
    "ThemeEventRecord",
    "ThemeRecord",
    "WindowCount",
    "create_db_engine",
    "init_db",
    "normalise_url",
]
