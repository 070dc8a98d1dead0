"""Alembic migrations on SQLite and PostgreSQL: they make exactly the models' schema, adopt a store made by
create_all before migrations existed, survive two processes starting at once, and ship inside the package."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from insights.store import FeedbackRecord, InsightStore, create_db_engine
from insights.store.db import MIGRATIONS, alembic_config, current_revision, head_revision, init_db
from insights.store.sample import build_sample, load_sample
from tests.messages import coarse_group

VIEWS = {"v_theme_trend", "v_empathy_share", "v_theme_by_agent", "v_theme_by_journey_stage", "v_theme_by_dimension",
         "v_empathy_category_share"}


def test_migrations_make_the_models_schema(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diffs == [], f"models and migrations disagree; add a revision: {diffs}"
        assert set(inspect(conn).get_view_names()) >= VIEWS
    InsightStore.from_url(database_url)  # a second start is a no-op


def test_downgrade_to_base_and_back(database_url: str) -> None:
    engine = create_db_engine(database_url)
    init_db(engine)
    with engine.connect() as conn:
        command.downgrade(alembic_config(connection=conn), "base")
        conn.commit()
        assert not {"feedback", "window_counts"} & set(inspect(conn).get_table_names())
    init_db(engine)
    assert current_revision(engine) == head_revision()


def test_a_store_made_by_create_all_is_adopted_with_its_rows(database_url: str) -> None:
    """The skeleton made tables with create_all (no alembic_version): init_db stamps and upgrades, keeps rows."""
    engine = create_db_engine(database_url)
    with engine.connect() as conn:  # the schema as revision 0001 left it, without the version table
        command.upgrade(alembic_config(connection=conn), "0001")
        conn.execute(text("DROP TABLE alembic_version"))
        conn.commit()
    legacy = InsightStore(engine)
    legacy.upsert_feedback([{
        "feedback_id": "old-1", "kind": "survey", "text": "rude agent", "event_time": datetime(2026, 1, 1, tzinfo=UTC),
        "truncated": False, "extra_dimensions": {}, "theme_id": "rude",
    }])
    store = InsightStore.from_url(database_url)
    assert current_revision(store.engine) == head_revision()
    assert store.count(FeedbackRecord) == 1
    with store.engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("window_counts")}
        assert "ix_window_counts_slice_theme_window" in names


def test_concurrent_starts_migrate_once(database_url: str) -> None:
    assert _start_at_once(database_url) == []
    assert current_revision(create_db_engine(database_url)) == head_revision()


def _start_at_once(url: str, starts: int = 4) -> list[BaseException]:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            InsightStore.from_url(url)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(starts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_sqlite_starts_at_once_never_fail_on_a_locked_file(tmp_path) -> None:
    """Turning WAL on, and opening a file while another engine's last connection closes, fail at once with
    "database is locked" (SQLite's busy timeout does not cover them). CI met it once; here 4 in 100 four-way
    starts failed, so 80 fresh files make the old code fail nearly every run."""
    failed = []
    for i in range(80):
        errors = _start_at_once(f"sqlite:///{tmp_path}/store-{i}.db")
        failed += [f"file {i}: {e!r}" for e in errors]
    assert failed == []


def test_views_chart_the_window_counts(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    sample = load_sample(store, build_sample(windows=16, items_per_window=120))
    rows = [r for r in sample.window_counts if r["dimension"] == "__all__"]
    totals = {r["window_start"]: r["count"] for r in rows if r["theme_id"] == "__all__"}
    empathy = {r["window_start"]: r["count"] for r in rows if r["theme_id"] == "__empathy__"}
    rude = sum(r["count"] for r in rows if r["theme_id"] == "rude")
    agent_rude = sum(
        r["count"] for r in sample.window_counts if r["dimension"] == "agent_id" and r["theme_id"] == "rude"
    )
    with store.engine.connect() as conn:
        trend = conn.execute(text(
            "SELECT theme_label, SUM(count), MIN(share), MAX(share) FROM v_theme_trend WHERE theme_id = 'rude' "
            "GROUP BY theme_label")).one()
        assert trend[0] == "rude agent" and trend[1] == rude and 0 < trend[2] <= trend[3] < 1
        share = conn.execute(text(
            "SELECT SUM(empathy_count), SUM(total), COUNT(*) FROM v_empathy_share WHERE dimension = '__all__'")).one()
        assert share == (sum(empathy.values()), sum(totals.values()), len(totals))
        by_agent = conn.execute(text("SELECT SUM(count) FROM v_theme_by_agent WHERE theme_id = 'rude'")).scalar()
        assert by_agent == agent_rude
        stages = conn.execute(text("SELECT DISTINCT journey_stage FROM v_theme_by_journey_stage")).scalars().all()
        assert set(stages) == {"onboarding", "purchase", "delivery", "billing", "support", "cancellation"}
        for view in ("v_theme_trend", "v_theme_by_agent", "v_theme_by_journey_stage", "v_theme_by_dimension"):
            special = conn.execute(text(  # the denominator, the empathy total and the category counts
                f"SELECT COUNT(*) FROM {view} WHERE theme_id IN ('__all__', '__empathy__') "
                "OR theme_id LIKE '!_!_empathy!_!_:%' ESCAPE '!'")).scalar()
            assert special == 0, view
        category = conn.execute(text(
            "SELECT label, SUM(count), SUM(total), MAX(share) FROM v_empathy_category_share "
            "WHERE empathy_category = 'rude' AND dimension = '__all__' GROUP BY label")).one()
        rude_all = sum(r["count"] for r in rows if r["theme_id"] == "__empathy__:rude")
        assert rude_all > 0 and category[:3] == ("rude complaints (all themes)", rude_all, sum(totals.values()))
        assert 0 < category[3] < 1
        agents = conn.execute(text("SELECT COUNT(DISTINCT value) FROM v_empathy_category_share "
                                   "WHERE dimension = 'agent_id'")).scalar()
        assert agents == 12

    # a coarse theme over two of them: the sum of its members per window and slice, as its alerts count it
    store.apply_theme_events(coarse_group("c-service", ["rude", "robotic"]))
    robotic = sum(r["count"] for r in rows if r["theme_id"] == "robotic")
    agent_both = sum(r["count"] for r in sample.window_counts
                     if r["dimension"] == "agent_id" and r["theme_id"] in ("rude", "robotic"))
    with store.engine.connect() as conn:
        coarse = conn.execute(text(
            "SELECT coarse_theme_label, SUM(count), SUM(total), MAX(members) FROM v_coarse_theme_trend "
            "WHERE coarse_theme_id = 'c-service' AND dimension = '__all__' GROUP BY coarse_theme_label")).one()
        windows = {r["window_start"] for r in rows if r["theme_id"] in ("rude", "robotic")}
        assert rude and robotic and coarse == ("c-service label", rude + robotic,
                                               sum(totals[w] for w in windows), 2)
        by_agent = conn.execute(text("SELECT SUM(count) FROM v_coarse_theme_trend WHERE dimension = 'agent_id'"))
        assert by_agent.scalar() == agent_both


def test_migrations_ship_with_the_package() -> None:
    """setuptools packages every folder with an __init__.py: the revisions travel in the wheel."""
    from setuptools import find_packages

    root = MIGRATIONS.parents[2]
    packages = set(find_packages(str(root), include=["insights*"]))
    assert {"insights.store.migrations", "insights.store.migrations.versions"} <= packages
    assert (MIGRATIONS / "env.py").is_file()
    assert len(list((MIGRATIONS / "versions").glob("0*.py"))) >= 3


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004"])
def test_every_revision_is_reachable(revision: str, sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(connection=conn), revision)
        conn.commit()
    assert current_revision(engine) == revision
    init_db(engine)
    assert current_revision(engine) == head_revision()


def test_processes_starting_at_once_on_one_sqlite_file(sqlite_url: str) -> None:
    import subprocess
    import sys

    code = f"from insights.store import InsightStore; InsightStore.from_url({sqlite_url!r})"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    assert current_revision(create_db_engine(sqlite_url)) == head_revision()
