"""Database writes wait out an outage instead of failing the batch (and retry only what may pass later)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from insights.retry import call_with_retry
from insights.store import InsightStore, create_db_engine
from streams.broker import free_port


def test_a_write_to_a_database_that_is_down_is_retried_with_backoff_then_gives_up() -> None:
    store = InsightStore(create_db_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"))
    row = {"window_start": datetime(2026, 1, 1, tzinfo=UTC), "window_end": datetime(2026, 1, 1, 1, tzinfo=UTC),
           "theme_id": "t1", "dimension": "__all__", "value": "__all__", "count": 1, "total": 2}
    waits: list[float] = []
    with pytest.raises(Exception) as info:
        call_with_retry(store.upsert_window_counts, [row], first_wait=0.01, max_wait=0.04,
                        give_up_after=0.2, sleep=waits.append)
    assert "OperationalError" in type(info.value).__name__
    assert len(waits) >= 3 and waits[:3] == [0.01, 0.02, 0.04]


def test_a_bug_is_not_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        call_with_retry(broken, sleep=lambda _s: None)
    assert calls == [1]


def test_a_write_that_succeeds_after_an_outage_returns_its_result(sqlite_url: str) -> None:
    from sqlalchemy.exc import OperationalError

    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return "stored"

    assert call_with_retry(flaky, sleep=lambda _s: None) == "stored"
    assert len(attempts) == 3
