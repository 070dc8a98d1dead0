"""Complaints of one empathy category spread over several themes are still one trend, alerted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from insights.schemas import first_error
from insights.trends import Observation, TrendMonitor

T0 = datetime(2026, 3, 1, tzinfo=UTC)
THEMES = ["t-rude-staff", "t-attitude", "t-talked-down", "t-hostile"]


def _stream(rude_per_window: list[int], per_window: int = 60):
    n = 0
    for w, rude in enumerate(rude_per_window):
        for i in range(per_window):
            when = T0 + timedelta(hours=w, seconds=i * 3600 / per_window)
            if i < rude:
                theme, label, category = THEMES[i % len(THEMES)], "rude staff", "rude"
            else:
                theme, label, category = f"t-other-{i % 6}", "billing", None
            n += 1
            yield Observation(f"f{n}", when, theme, label, category,
                              {"agent_id": "a-1", "team": "care"}, f"text {n}", theme_empathy_category=category)


def test_a_rise_spread_over_rude_themes_alerts_as_the_rude_category():
    monitor = TrendMonitor(window="1h", grace="0s", min_volume=20, p_value=0.001)
    alerts = []
    for obs in _stream([2] * 12 + [12, 12, 12]):
        alerts.extend(monitor.observe(obs))
    alerts.extend(monitor.flush())
    messages = [a.to_message() for a in alerts]
    rude = [m for m in messages if m["theme_id"] == "__empathy__:rude"]
    assert rude, [(m["theme_id"], m["dimensions"]) for m in messages]
    assert rude[0]["empathy_category"] == "rude" and rude[0]["aggregate"] is True
    assert first_error("alert", rude[0]) is None
    assert not [m for m in messages if m["theme_id"] in THEMES], "no single theme rose enough on its own"
    assert not [m for m in messages if m["theme_id"] == "__empathy__" and m["dimensions"] == rude[0]["dimensions"]
                and m["window_end"] == rude[0]["window_end"]], "the all-empathy aggregate repeats the category"


def test_a_stationary_category_does_not_alert():
    monitor = TrendMonitor(window="1h", grace="0s", min_volume=20, p_value=0.001)
    alerts = [a for obs in _stream([3] * 20) for a in monitor.observe(obs)] + monitor.flush()
    assert not [a for a in alerts if a.theme_id.startswith("__empathy__")]
