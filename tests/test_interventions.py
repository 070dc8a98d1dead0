"""Interventions: difference in differences recovers an injected 40% drop of the empathy-complaint rate within its
interval and says "no detectable change" for a placebo team; storage, CLI and API on SQLite and PostgreSQL.

The world (benchmarks/impact.py): 4 teams, 28 simulated days; from day 14 the simulator's ``Intervention`` lowers
every empathy theme of care-east by a multiplier solved from the simulator's own rates so that the DiD estimand is
exactly -40%; a company-wide doubling of rude complaints starts on day 17; care-west records a placebo
intervention the same day. The simulator's true theme is the assignment (no embedding).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from benchmarks.impact import PLACEBO, TREATED, intervention_world
from insights.impact_plots import plot_intervention
from insights.interventions import InterventionSpec, analyze_all, analyze_intervention, verdict_text
from insights.store import InsightStore
from insights.store.interventions import (
    InterventionRecord,
    add_intervention,
    delete_intervention,
    ensure_table,
    get_intervention,
    list_interventions,
)


@pytest.fixture(scope="module")
def world():
    return intervention_world(seed=0)


@pytest.fixture(scope="module")
def small_world():
    """A quarter of the volume, for the store round trips."""
    return intervention_world(seed=0, per_day=250)


def test_the_injected_drop_is_exactly_forty_percent_in_the_simulator(world) -> None:
    assert world.true_effect == pytest.approx(-0.40, abs=1e-4)
    assert world.true_placebo == pytest.approx(0.0, abs=0.01)
    assert 0.4 < world.multiplier < 0.7


def test_a_forty_percent_drop_is_recovered_within_its_interval(world) -> None:
    result = analyze_intervention(world.rows, world.treated, "empathy", others=[world.placebo])
    assert result.enough_data and result.detectable
    assert result.ci_low <= world.true_effect <= result.ci_high, (result.ci_low, result.ci_high)
    assert result.ci_high < -0.2  # a clear fall, not a marginal one
    assert result.ci_high - result.ci_low < 0.25
    assert result.verdict.startswith("fell by ") and "(95% CI " in result.verdict
    assert result.control_teams == ["billing-desk", "tech-support"]  # the placebo team is not a control
    assert result.sentence.startswith(f"Empathy complaints for team {TREATED} fell by ")
    assert "compared with 2 teams without it over the same 14 days" in result.sentence
    assert result.period_end - result.period_start == timedelta(days=28)
    assert len(result.series["treated"]) == 28


def test_the_placebo_team_shows_no_detectable_change(world) -> None:
    result = analyze_intervention(world.rows, world.placebo, "empathy", others=[world.treated])
    assert result.enough_data and not result.detectable
    assert result.verdict.startswith("no detectable change (")
    assert result.ci_low < 0 < result.ci_high
    assert TREATED not in result.control_teams


def test_the_control_group_removes_the_company_wide_rise(world) -> None:
    """Rude complaints doubled for everyone after day 17: the control's rate rose, the DiD nets it out."""
    result = analyze_intervention(world.rows, world.treated, "empathy", others=[world.placebo])
    assert result.control_after.value > 1.03 * result.control_before.value
    naive = result.treated_after.value / result.treated_before.value - 1
    assert naive > result.estimate + 0.02  # the naive before/after understates the drop


def test_theme_and_score_metrics(world) -> None:
    labels = {"rude": "rude agent"}
    results = analyze_all(world.rows, world.treated, themes=["rude", "billing_error"], labels=labels,
                          others=[world.placebo])
    empathy, rude, billing, score = results
    assert [r.metric for r in results] == ["empathy", "theme", "theme", "score"]
    # one theme is a few hundred events: the interval is wide, the estimate points the right way
    assert rude.kind == "ratio" and rude.estimate < -0.1 and rude.sentence.startswith("'rude agent' complaints")
    assert rude.ci_high - rude.ci_low > empathy.ci_high - empathy.ci_low
    assert not billing.detectable  # not targeted
    # fewer complaints, slightly better scores (the simulator scores negative feedback low)
    assert score.kind == "difference" and score.estimate > 0 and "points" in score.verdict
    assert score.treated_before.den > 3000


def test_not_enough_data_says_so(world) -> None:
    start = world.treated.started_at
    few = [r for r in world.rows if start - timedelta(hours=12) <= r["event_time"] < start + timedelta(hours=12)][:60]
    result = analyze_intervention(few, world.treated, "empathy", others=[world.placebo])
    assert not result.enough_data and result.estimate is None
    assert result.verdict == "not enough data to tell" and "not enough data" in result.sentence


def test_short_periods_fall_back_to_the_model_interval(world) -> None:
    result = analyze_intervention(world.rows, world.treated, "empathy", others=[world.placebo],
                                  before=timedelta(days=3), after=timedelta(days=3))
    assert result.method.startswith("quasi-binomial")
    assert result.ci_low < result.estimate < result.ci_high


def test_pretrend_check_is_reported(world) -> None:
    result = analyze_intervention(world.rows, world.treated, "empathy", others=[world.placebo])
    assert result.pretrend is not None and set(result.pretrend) >= {"estimate", "ci_low", "ci_high", "parallel"}


def test_an_agent_level_intervention(world) -> None:
    agents = sorted({r["agent_id"] for r in world.rows if r["team"] == TREATED})[:2]
    spec = InterventionSpec("two-agents", world.treated.started_at, agents=tuple(agents))
    result = analyze_intervention(world.rows, spec, "empathy", others=[world.placebo])
    assert result.detectable and result.estimate < -0.2  # their team got the drop too; the rest are controls
    assert TREATED in result.control_teams  # the team's other agents serve as controls


@pytest.mark.parametrize(
    ("estimate", "lo", "hi", "kind", "expected"),
    [
        (-0.35, -0.48, -0.20, "ratio", "fell by 35% (95% CI 20% to 48%)"),
        (0.12, 0.03, 0.22, "ratio", "rose by 12% (95% CI 3% to 22%)"),
        (-0.03, -0.15, 0.10, "ratio", "no detectable change (-3%, 95% CI -15% to +10%)"),
        (3.1, 0.4, 5.8, "difference", "rose by 3.1 points on a 0-100 scale (95% CI 0.4 to 5.8)"),
        (-1.0, -2.5, 0.5, "difference", "no detectable change (-1.0 points, 95% CI -2.5 to +0.5)"),
        (None, None, None, "ratio", "not enough data to tell"),
    ],
)
def test_verdicts_read_plainly(estimate, lo, hi, kind, expected) -> None:
    assert verdict_text(estimate, lo, hi, kind, 0.95) == expected


def test_the_chart_is_a_png(world, tmp_path) -> None:
    result = analyze_intervention(world.rows, world.treated, "empathy", others=[world.placebo])
    assert plot_intervention(result)[:8] == b"\x89PNG\r\n\x1a\n"
    score = analyze_intervention(world.rows, world.treated, "score", others=[world.placebo])
    assert plot_intervention(score, tmp_path / "score.png").read_bytes()[:4] == b"\x89PNG"


# -- the store, the CLI and the API ---------------------------------------------------------------------------
def test_the_table_is_part_of_the_migrated_metadata() -> None:
    """Revision 0004 creates it, so the migrations-vs-models check covers it."""
    assert SQLModel.metadata.tables["interventions"] is InterventionRecord.__table__


def test_interventions_are_stored(database_url: str) -> None:
    store = InsightStore.from_url(database_url)
    ensure_table(store.engine)
    ensure_table(store.engine)  # idempotent
    day = datetime(2024, 5, 15, 9, 30, tzinfo=UTC)
    add_intervention(store.engine, "coaching-may", day, teams=["care-east", " care-east "], description="empathy")
    add_intervention(store.engine, "fix agents", day - timedelta(days=3), agents=["a-02", "a-01"])
    with pytest.raises(ValueError, match="exists"):
        add_intervention(store.engine, "coaching-may", day, teams=["x"])
    with pytest.raises(ValueError, match="at least one team or agent"):
        add_intervention(store.engine, "empty", day)
    with pytest.raises(ValueError, match="invalid intervention name"):
        add_intervention(store.engine, "bad\nname", day, teams=["x"])
    names = [r.name for r in list_interventions(store.engine)]
    assert names == ["fix agents", "coaching-may"]  # oldest start first
    got = get_intervention(store.engine, "coaching-may")
    assert got.started_at == day and got.teams == ["care-east"] and got.description == "empathy"
    assert get_intervention(store.engine, "fix agents").agents == ["a-01", "a-02"]
    replaced = add_intervention(store.engine, "coaching-may", day + timedelta(days=1), teams=["care-west"],
                                replace=True)
    assert replaced.teams == ["care-west"] and get_intervention(store.engine, "coaching-may").teams == ["care-west"]
    assert delete_intervention(store.engine, "fix agents") and not delete_intervention(store.engine, "fix agents")
    assert get_intervention(store.engine, "nope") is None
    store.engine.dispose()


def test_cli_and_api_on_the_store(database_url: str, small_world, monkeypatch) -> None:
    from insights.api.impact_routes import router
    from insights.cli import main

    store = InsightStore.from_url(database_url)
    store.upsert_feedback(small_world.rows)
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    start = small_world.treated.started_at.strftime("%Y-%m-%dT%H:%M:%S")
    out = runner.invoke(main, ["intervention", "add", "empathy-coaching", "--date", start, "--team", TREATED,
                               "--description", "two days of empathy coaching"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["teams"] == [TREATED]
    out = runner.invoke(main, ["intervention", "add", "placebo-memo", "--date", start, "--team", PLACEBO])
    assert out.exit_code == 0, out.output
    again = runner.invoke(main, ["intervention", "add", "placebo-memo", "--date", start, "--team", PLACEBO])
    assert again.exit_code != 0 and "exists" in again.output
    assert runner.invoke(main, ["intervention", "add", "x", "--date", "yesterday", "--team", "t"]).exit_code == 2
    assert runner.invoke(main, ["intervention", "add", "x", "--date", start]).exit_code == 2
    listed = runner.invoke(main, ["intervention", "list"])
    assert listed.exit_code == 0 and "empathy-coaching" in listed.output and f"team {PLACEBO}" in listed.output

    out = runner.invoke(main, ["intervention", "analyze", "empathy-coaching", "--theme", "rude", "--json"])
    assert out.exit_code == 0, out.output
    results = json.loads(out.output)["results"]
    assert [r["metric"] for r in results] == ["empathy", "theme", "score"]
    expected = analyze_intervention(small_world.rows, small_world.treated, "empathy", others=[small_world.placebo])
    assert results[0]["estimate"] == pytest.approx(expected.estimate, rel=1e-9)
    assert results[0]["verdict"] == expected.verdict and results[0]["verdict"].startswith("fell by")
    assert results[1]["sentence"].startswith("'rude agent' complaints") or results[1]["sentence"].startswith("'rude'")
    text = runner.invoke(main, ["intervention", "analyze", "placebo-memo"])
    assert text.exit_code == 0 and f"Empathy complaints for team {PLACEBO}: no detectable change" in text.output
    assert runner.invoke(main, ["intervention", "analyze", "nope"]).exit_code == 1

    app = FastAPI()
    app.include_router(router(store, allow_writes=True))
    client = TestClient(app)
    items = client.get("/api/interventions").json()
    assert items["total"] == 2 and {i["name"] for i in items["items"]} == {"empathy-coaching", "placebo-memo"}
    body = client.get("/api/interventions/empathy-coaching/analysis", params={"theme": ["rude"]}).json()
    assert body["intervention"]["teams"] == [TREATED]
    assert body["results"][0]["verdict"] == expected.verdict and "series" not in body["results"][0]
    with_series = client.get("/api/interventions/placebo-memo/analysis", params={"series": True}).json()
    assert with_series["results"][0]["verdict"].startswith("no detectable change")
    assert len(with_series["results"][0]["series"]["treated"]) == len(with_series["results"][0]["series"]["control"])
    assert client.get("/api/interventions/nope/analysis").status_code == 404
    assert client.get("/api/interventions/%0A/analysis").status_code == 422
    assert client.get("/api/interventions/placebo-memo/analysis", params={"before": "forever"}).status_code == 422
    created = client.post("/api/interventions", json={"name": "new-script", "started_at": "2024-05-20T00:00:00Z",
                                                       "agents": ["a-01"]})
    assert created.status_code == 201 and created.json()["agents"] == ["a-01"]
    assert client.post("/api/interventions", json={"name": "new-script", "started_at": "2024-05-20T00:00:00Z",
                                                   "agents": ["a-01"]}).status_code == 409
    assert client.post("/api/interventions", json={"name": "nobody", "started_at": "2024-05-20"}).status_code == 422
    assert client.delete("/api/interventions/new-script").status_code == 204
    read_only = TestClient(FastAPI())
    read_only.app.include_router(router(store))
    assert read_only.post("/api/interventions", json={}).status_code in (404, 405)
    store.engine.dispose()
