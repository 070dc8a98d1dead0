"""Score impact per theme: normalisation, ranking an injected score-dragging theme first, per team and window,
records as well as dicts, the store on SQLite and PostgreSQL, the API route and the chart.

The data are the simulator's feedback re-scored from a latent satisfaction that depends on the true theme
(benchmarks/impact.py, which prints the same figures): ``didnt_listen`` is injected to drag scores 30 points more.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from benchmarks.impact import DRAG_THEME, LABELS, scored_feedback
from insights.impact import (
    is_detractor,
    load_scored_rows,
    normalise_score,
    score_impact,
    theme_impacts,
    welch_interval,
)
from insights.impact_plots import plot_theme_impact
from insights.store import FeedbackRecord, InsightStore


@pytest.fixture(scope="module")
def dragged() -> list[dict]:
    return scored_feedback(seed=0)


@pytest.fixture(scope="module")
def plain() -> list[dict]:
    return scored_feedback(seed=0, drag_theme=None)


@pytest.mark.parametrize(
    ("score", "kind", "ces", "value", "detractor"),
    [
        (1, "csat", "effort", 0.0, True), (2, "csat", "effort", 25.0, True), (3, "csat", "effort", 50.0, False),
        (5, "rating", "effort", 100.0, False), (6, "nps", "effort", 60.0, True), (7, "nps", "effort", 70.0, False),
        (10, "nps", "effort", 100.0, False), (0, "nps", "effort", 0.0, True), (7, "ces", "effort", 0.0, True),
        (5, "ces", "effort", 100 / 3, True), (4, "ces", "effort", 50.0, False), (1, "ces", "effort", 100.0, False),
        (7, "ces", "ease", 100.0, False), (3, "ces", "ease", 100 / 3, True), (4, "CSAT", "effort", 75.0, False),
    ],
)  # fmt: skip
def test_scores_are_put_on_one_scale_and_detractors_follow_each_survey(score, kind, ces, value, detractor) -> None:
    assert normalise_score(score, kind, ces) == pytest.approx(value)
    assert is_detractor(score, kind, ces) is detractor


def test_unusable_scores_are_skipped() -> None:
    assert normalise_score(None, "csat") is None
    assert normalise_score(3, None) is None
    assert normalise_score(3, "stars") is None
    assert normalise_score(float("nan"), "nps") is None
    assert normalise_score(12, "nps") == 100.0  # clipped to the scale


def test_welch_interval_matches_scipy() -> None:
    from scipy import stats

    a, b = [1.0, 2.0, 3.0, 4.0, 8.0], [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 9.0]
    diff, lo, hi, p = welch_interval(a, b)
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert lo < diff < hi and diff == pytest.approx(sum(a) / 5 - sum(b) / 7)


def test_the_injected_score_dragging_theme_ranks_first(dragged, plain) -> None:
    ranking = theme_impacts(dragged, LABELS)
    assert ranking[0].theme_id == DRAG_THEME, [(t.theme_id, round(t.points_lost, 2)) for t in ranking[:4]]
    assert theme_impacts(dragged, LABELS, rank_by="effect")[0].theme_id == DRAG_THEME
    top = ranking[0]
    assert top.significant and top.effect < -25 and top.ci_high < -25
    assert top.points_lost_ci[0] > ranking[1].points_lost  # clearly first, not by a hair
    assert top.detractors_with > 0.85 > 0.5 > top.detractors_without
    assert set(top.by_score_type) >= {"csat", "nps", "ces", "rating"}
    assert top.by_score_type["nps"]["nps_with"] < top.by_score_type["nps"]["nps_without"]
    assert top.sentence.startswith("'had to repeat myself' (") and "points lower on a 0-100 scale" in top.sentence
    assert "95% CI" in top.sentence and "detractors" in top.sentence
    # praise lifts the score: it costs nothing and comes last
    assert ranking[-1].theme_id == "praise" and ranking[-1].effect > 0 and ranking[-1].points_lost < 0
    # without the injection the same theme is an ordinary complaint, far from the top
    baseline = [t.theme_id for t in theme_impacts(plain, LABELS)]
    assert baseline.index(DRAG_THEME) >= 5, baseline


def test_impact_per_team_and_per_window(dragged) -> None:
    by_team = score_impact(dragged, by="team", labels=LABELS)
    assert {g.value for g in by_team} == {"care-east", "care-west", "tech-support"}
    for group in by_team:
        assert group.dimension == "team" and group.n > 3000
        assert group.themes[0].theme_id == DRAG_THEME, group.value
        assert f"team {group.value}" in group.themes[0].sentence
    by_week = score_impact(dragged, window="7d", labels=LABELS)
    assert len(by_week) >= 2
    for group in by_week:
        assert group.window_end - group.window_start == __import__("datetime").timedelta(days=7)
        if group.n > 5000:
            assert group.themes[0].theme_id == DRAG_THEME
    stages = score_impact(dragged, by="journey_stage", labels=LABELS, min_count=10**6)
    assert len(stages) == 6 and all(g.themes == [] for g in stages)  # too few per theme: nothing claimed


def test_records_and_dicts_give_the_same_answer(dragged) -> None:
    rows = dragged[:3000]
    records = [FeedbackRecord(**r) for r in rows]
    a = [(t.theme_id, round(t.effect, 9)) for t in theme_impacts(rows)]
    b = [(t.theme_id, round(t.effect, 9)) for t in theme_impacts(records)]
    assert a == b and a


def test_impact_from_the_store_and_the_api(database_url: str, dragged) -> None:
    rows = dragged[:4000]
    store = InsightStore.from_url(database_url)
    store.upsert_feedback(rows)
    loaded = load_scored_rows(store.engine)
    assert len(loaded) == 4000
    expected = theme_impacts(rows, LABELS, min_count=20)
    got = theme_impacts(loaded, LABELS, min_count=20)
    assert [(t.theme_id, round(t.effect, 6)) for t in got] == [(t.theme_id, round(t.effect, 6)) for t in expected]

    from insights.api.impact_routes import router

    app = FastAPI()
    app.include_router(router(store))
    client = TestClient(app)
    body = client.get("/api/impact/themes").json()
    assert body["scored"] == 4000 and len(body["groups"]) == 1
    themes = body["groups"][0]["themes"]
    assert [t["theme_id"] for t in themes] == [t.theme_id for t in expected]
    assert themes[0]["theme_id"] == DRAG_THEME and themes[0]["sentence"]
    teams = client.get("/api/impact/themes", params={"by": "team", "top": 3}).json()["groups"]
    assert {g["value"] for g in teams} == {"care-east", "care-west", "tech-support"}
    assert all(len(g["themes"]) <= 3 for g in teams)
    assert client.get("/api/impact/themes", params={"by": "nope"}).status_code == 422
    assert client.get("/api/impact/themes", params={"window": "0d"}).status_code == 422
    bad_range = {"since": "2024-06-01T00:00:00Z", "until": "2024-05-01T00:00:00Z"}
    assert client.get("/api/impact/themes", params=bad_range).status_code == 400
    store.engine.dispose()


def test_the_impact_chart_is_a_png(dragged, tmp_path) -> None:
    ranking = theme_impacts(dragged[:5000], LABELS)
    png = plot_theme_impact(ranking)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    path = plot_theme_impact(ranking, tmp_path / "impact.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert plot_theme_impact([])[:4] == b"\x89PNG"
