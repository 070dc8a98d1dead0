"""Fairness to agents: rates per contact, shrunk towards the team, no alert on a handful of items."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from insights.trends import Observation, TrendMonitor, shrunk_rate

T0 = datetime(2024, 5, 1, tzinfo=UTC)
TEAM = "t1"
REGULARS = [f"a-{i:02d}" for i in range(1, 11)]


def contacts(agent: str, window: int, complaints: int, total: int) -> list[Observation]:
    """``total`` feedback items an agent received in one hour, ``complaints`` of them about rudeness."""
    themes = ["t-rude"] * complaints + ["t-ok"] * (total - complaints)
    random.Random(f"{agent}{window}").shuffle(themes)
    return [
        Observation(
            feedback_id=f"{agent}-{window}-{i}",
            event_time=T0 + timedelta(hours=window, seconds=(i + 0.5) * 3600 / total),
            theme_id=theme,
            theme_label="rude agent" if theme == "t-rude" else "fine",
            empathy_category="rude" if theme == "t-rude" else None,
            theme_empathy_category="rude" if theme == "t-rude" else None,
            dimensions={"agent_id": agent, "team": TEAM},
            text=f"{agent} {theme} {i}",
        )
        for i, theme in enumerate(themes)
    ]


def play(mon: TrendMonitor, last_window: dict[str, tuple[int, int]]) -> list:
    """Eight quiet hours (every agent at the team's 10%, a-11 with 4 contacts an hour), then ``last_window``."""
    history_small = [0, 1, 0, 0, 1, 0, 0, 1]
    alerts = []
    for w in range(9):
        items = []
        for agent in REGULARS:
            complaints, total = last_window.get(agent, (10, 100)) if w == 8 else (10, 100)
            items += contacts(agent, w, complaints, total)
        small = last_window.get("a-11", (1, 4)) if w == 8 else (history_small[w], 4)
        items += contacts("a-11", w, *small)
        for o in sorted(items, key=lambda o: o.event_time):
            alerts += mon.observe(o)
    return alerts + mon.flush()


def agent_alerts(alerts: list, theme: str = "t-rude") -> dict[str, object]:
    return {a.dimensions["agent_id"]: a for a in alerts if "agent_id" in a.dimensions and a.theme_id == theme}


def test_three_of_four_is_not_alerted_but_thirty_of_a_hundred_against_ten_percent_is():
    alerts = agent_alerts(play(TrendMonitor(window="1h", grace="0"), {"a-07": (30, 100), "a-11": (3, 4)}))
    assert set(alerts) == {"a-07"}
    alert = alerts["a-07"]
    assert alert.windows == 1
    assert (alert.observed, alert.denominator) == (30, 100)
    assert alert.baseline_rate == pytest.approx(0.10, abs=0.01)
    assert alert.p_value < 0.001


def test_the_handful_is_spared_by_shrinkage_even_without_volume_rules():
    """With the volume rules switched off, the 3-of-4 agent is still not blamed: the evidence is too thin."""
    mon = TrendMonitor(window="1h", grace="0", min_volume=1, min_observed=1)
    alerts = agent_alerts(play(mon, {"a-07": (30, 100), "a-11": (3, 4)}))
    assert "a-11" not in alerts
    assert "a-07" in alerts


def test_shrunk_rates_rank_the_agents_fairly():
    raw_small, raw_busy = 3 / 4, 30 / 100
    assert raw_small > raw_busy  # a raw league table would put the 4-contact agent on top
    small = shrunk_rate(3, 4, parent_rate=0.10, strength=100)
    busy = shrunk_rate(30, 100, parent_rate=0.10, strength=100)
    assert small < busy
    assert small == pytest.approx(13 / 104)
    assert shrunk_rate(0, 0, 0.10, 100) == pytest.approx(0.10)


def test_an_agent_is_compared_with_the_feedback_they_received_not_raw_counts():
    """A busy agent with many complaints at the team rate is fine; the rate per contact is what counts."""
    alerts = agent_alerts(play(TrendMonitor(window="1h", grace="0"), {"a-03": (40, 400)}))
    assert "a-03" not in alerts
