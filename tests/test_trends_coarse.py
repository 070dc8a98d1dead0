"""Coarse themes in the trend monitor: tested as the sum of their members, each on its own baseline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from insights.trends import Observation, TrendMonitor
from tests.test_trends_alerts import SCHEMA

T0 = datetime(2024, 5, 1, tzinfo=UTC)
BILLING = {"t-charge": "c-billing", "t-refund": "c-billing", "t-invoice": "c-billing"}


def feed(mon: TrendMonitor, w: int, themes: dict[str, int], total: int, parents: dict[str, str]) -> list:
    """One hour: ``themes`` counts, the rest 't-other'; each item carries its theme's coarse theme."""
    labels = [t for t, c in themes.items() for _ in range(c)]
    labels += ["t-other"] * (total - len(labels))
    random.Random(w).shuffle(labels)
    alerts = []
    for i, theme in enumerate(labels):
        coarse = parents.get(theme)
        alerts += mon.observe(Observation(
            feedback_id=f"{w}-{i}", event_time=T0 + timedelta(hours=w, seconds=3600 * i / total), theme_id=theme,
            theme_label=theme.removeprefix("t-"), empathy_category=None, dimensions={}, text=f"quote {theme} {i}",
            coarse_theme_id=coarse, coarse_theme_label=coarse and coarse.removeprefix("c-") + " issues"))
    return alerts


def run(windows: list[tuple[dict[str, int], int, dict[str, str]]]) -> list:
    mon = TrendMonitor(window="1h", grace="0")
    alerts = []
    for w, (themes, total, parents) in enumerate(windows):
        alerts += feed(mon, w, themes, total, parents)
    return alerts + mon.flush()


QUIET = {"t-charge": 20, "t-refund": 20, "t-invoice": 20}


def test_a_rise_spread_over_a_coarse_themes_members_alerts_on_the_coarse_theme():
    # each member +50%: 30 against 20 is not enough alone (p > 0.001), 90 against 60 together is
    diffuse = {"t-charge": 30, "t-refund": 30, "t-invoice": 30}
    alerts = run([*[(QUIET, 500, BILLING)] * 12, (diffuse, 500, BILLING)])
    assert [a.theme_id for a in alerts] == ["c-billing"]
    alert = alerts[0]
    assert alert.aggregate and alert.empathy_category is None
    assert alert.theme_label == "billing issues (group of 3 themes)"
    assert alert.observed == 90 and alert.expected == pytest.approx(60, rel=0.05)
    assert len(alert.quotes) == 3 and all(q.startswith("quote t-") for q in alert.quotes)
    jsonschema.validate(alert.to_message(), SCHEMA)
    # the same rise with no coarse level: nothing alerts (what the coarse level is for)
    assert run([*[(QUIET, 500, {})] * 12, (diffuse, 500, {})]) == []


def test_a_members_own_rise_is_not_repeated_as_its_coarse_themes():
    alerts = run([*[(QUIET, 600, BILLING)] * 12, ({**QUIET, "t-refund": 60}, 600, BILLING)])
    assert [a.theme_id for a in alerts] == ["t-refund"]


def test_regrouping_the_coarse_level_is_not_a_rise():
    """Half-way, t-refund and t-invoice move to a new coarse theme and t-other's neighbour joins billing: each
    coarse theme's count jumps, but its members bring their own baselines along."""
    regrouped = {"t-charge": "c-billing", "t-wait": "c-billing", "t-refund": "c-money", "t-invoice": "c-money"}
    steady = {**QUIET, "t-wait": 30}
    windows = [(steady, 600, BILLING)] * 10 + [(steady, 600, regrouped)] * 6
    assert run(windows) == []
    # and a real rise after the regrouping is still seen, on the new group
    rise = {**steady, "t-refund": 35, "t-invoice": 35}  # 70 against 40; 35 against 20 alone is not enough
    assert [a.theme_id for a in run([*windows, (rise, 600, regrouped)])] == ["c-money"]


def test_a_member_born_into_a_coarse_theme_does_not_raise_it():
    """A new theme discovered from earlier outliers adds its items to its coarse theme at once; until it has a
    baseline of its own it is left out of the sum."""
    born = {**BILLING, "t-new": "c-billing"}
    windows = [(QUIET, 600, BILLING)] * 10 + [({**QUIET, "t-new": 40}, 600, born)] * 6
    assert run(windows) == []


def test_assignments_carry_the_coarse_theme_to_the_monitor():
    """The stream's path: a prediction's coarse theme goes into the assignment message (valid against its schema,
    and older messages without the label stay valid) and from there into the monitor's grouping."""
    from insights.pipeline import assignment_message
    from insights.records import parse_feedback
    from insights.schemas import first_error
    from insights.themes.types import ThemePrediction
    from insights.trend_stage import observation_from_assignment
    from tests.messages import encode, survey

    pred = ThemePrediction("t0001", "refund", None, 0.8, coarse_theme_id="c0002", coarse_theme_label="billing")
    message = assignment_message(parse_feedback("survey", encode(survey(1))), pred)
    assert first_error("theme_assignment", message) is None
    assert first_error("theme_assignment", {k: v for k, v in message.items() if k != "coarse_theme_label"}) is None
    obs = observation_from_assignment(message)
    assert (obs.coarse_theme_id, obs.coarse_theme_label) == ("c0002", "billing")
    mon = TrendMonitor(window="1h", grace="1h")
    mon.observe(obs)
    assert mon.counts.groups() == {"c0002": ["t0001"]} and mon.counts.theme_info("c0002")[0] == "billing"
