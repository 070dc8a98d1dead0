"""Trend tests: rises alert with evidence, quiet streams do not, cooldown, empathy aggregate, ids, schema."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from scipy.stats import betabinom

from insights.lineage import merges
from insights.simulator import FeedbackSimulator, Injection
from insights.trend_stage import satisfaction
from insights.trends import EMPATHY_THEME_ID, Observation, TrendMonitor, betabinom_sf
from insights.trends.stats import BetaRate, severity, tail_test

T0 = datetime(2024, 5, 1, tzinfo=UTC)
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "alert.v1.json").read_text())
EMPATHY = {"t-rude": "rude", "t-robot": "robotic", "t-dismiss": "dismissive"}


def feed_window(mon: TrendMonitor, w: int, themes: dict[str, int], total: int, dims: dict | None = None,
                satisfaction: dict[str, float] | None = None):
    """One hour of feedback: ``themes`` counts, the rest 't-other'; returns alerts raised while feeding.
    ``satisfaction``: the 0-100 score of each theme's items (others unscored)."""
    labels = [t for t, c in themes.items() for _ in range(c)]
    labels += ["t-other"] * (total - len(labels))
    random.Random(w).shuffle(labels)
    alerts = []
    for i, theme in enumerate(labels):
        alerts += mon.observe(
            Observation(
                feedback_id=f"{w}-{i}-{sorted((dims or {}).items())}",
                event_time=T0 + timedelta(hours=w, seconds=3600 * i / total),
                theme_id=theme,
                theme_label=theme.removeprefix("t-"),
                empathy_category=EMPATHY.get(theme),
                theme_empathy_category=EMPATHY.get(theme),
                dimensions=dims or {},
                text=f"quote {theme} {i}",
                satisfaction=(satisfaction or {}).get(theme),
            )
        )
    return alerts


def run(mon: TrendMonitor, windows: list[tuple[dict[str, int], int]]) -> list:
    alerts = []
    for w, (themes, total) in enumerate(windows):
        alerts += feed_window(mon, w, themes, total)
    return alerts + mon.flush()


def test_betabinom_tail_matches_scipy():
    for n, a, b in [(4, 10.0, 90.0), (100, 10.0, 90.0), (400, 30.0, 370.0), (60, 0.5, 0.5), (1000, 2.0, 500.0)]:
        for x in range(0, n + 2, max(1, n // 25)):
            assert betabinom_sf(x, n, a, b) == pytest.approx(betabinom.sf(x - 1, n, a, b), rel=1e-6, abs=1e-12)


def test_uncertain_baseline_gives_a_larger_p_value():
    sure = tail_test(60, 400, BetaRate(3000.0, 37000.0))
    unsure = tail_test(60, 400, BetaRate(30.0, 370.0))
    overdispersed = tail_test(60, 400, BetaRate(3000.0, 37000.0), dispersion=2.0)
    assert sure.p_value < unsure.p_value
    assert sure.p_value < overdispersed.p_value
    assert sure.expected == pytest.approx(30.0, rel=1e-3)


def test_severity_grows_with_the_ratio():
    assert [severity(r, 20) for r in (1.3, 1.7, 2.5, 3.5)] == ["low", "medium", "high", "critical"]
    assert severity(5.0, 6) == "high"  # critical needs a real count


def test_a_doubling_in_the_whole_stream_alerts_with_its_evidence():
    quiet = [({"t-bill": 40}, 400)] * 10
    alerts = run(TrendMonitor(window="1h", grace="0"), [*quiet, ({"t-bill": 84}, 400)])
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.theme_id, alert.dimensions, alert.windows) == ("t-bill", {}, 1)
    assert alert.window_start == "2024-05-01T10:00:00Z" and alert.window_end == "2024-05-01T11:00:00Z"
    assert alert.observed == 84 and alert.denominator == 400
    assert alert.expected == pytest.approx(40.0, rel=0.05)
    assert alert.ratio == pytest.approx(2.1, rel=0.05)
    assert alert.p_value < 0.001 and alert.z > 3
    assert alert.severity == "high"
    assert alert.baseline_rate == pytest.approx(0.1, rel=0.05)
    assert 1 <= len(alert.quotes) <= 3 and all(q.startswith("quote t-bill") for q in alert.quotes)
    assert "bill" in alert.explanation and "84 of 400" in alert.explanation
    assert alert.explanation.count(".") >= 1 and "\n" not in alert.explanation


@pytest.mark.parametrize(("theme", "score", "alerts_expected"), [
    ("t-great", 95.0, 0),  # praise: more happy customers is no incident
    ("t-great", 20.0, 1),  # the same rise among unhappy customers is a complaint
    ("t-rude", 95.0, 1),  # an empathy theme alerts whatever the scores say
])
def test_rises_of_praise_do_not_alert_rises_of_complaints_do(theme, score, alerts_expected):
    mon = TrendMonitor(window="1h", grace="0")
    quiet = [({theme: 40}, 400)] * 10
    alerts = []
    for w, (themes, total) in enumerate([*quiet, ({theme: 84}, 400)]):
        alerts += feed_window(mon, w, themes, total, satisfaction={theme: score})
    alerts += mon.flush()
    assert [a.theme_id for a in alerts] == [theme] * alerts_expected
    assert (mon.stats["praise"] > 0) == (alerts_expected == 0)


def test_a_surge_of_unhappy_customers_in_a_praise_theme_alerts():
    """Complaints can land in a praise theme (they share its words: "the agent was great" / "the agent was not
    great"). The theme's long-run satisfaction said praise and hid a surge of them; the window's own says otherwise."""
    mon = TrendMonitor(window="1h", grace="0")
    alerts = []
    for w in range(10):
        alerts += feed_window(mon, w, {"t-great": 40}, 400, satisfaction={"t-great": 95.0})
    alerts += feed_window(mon, 10, {"t-great": 140}, 400, satisfaction={"t-great": 0.0})
    alerts += mon.flush()
    assert mon.counts.satisfaction("t-great")[0] >= 70, "the long run still says praise"
    assert [a.theme_id for a in alerts] == ["t-great"]


def test_satisfaction_rescales_nps_csat_and_ratings_but_not_ces():
    assert satisfaction(10, "nps") == 100.0 and satisfaction(0, "nps") == 0.0
    assert satisfaction(1, "csat") == 0.0 and satisfaction(4, "rating") == 75.0
    assert satisfaction(7, "ces") is None and satisfaction(None, "csat") is None


def test_a_moderate_sustained_rise_is_caught_over_two_windows():
    quiet = [({"t-bill": 40}, 400)] * 10
    alerts = run(TrendMonitor(window="1h", grace="0"), [*quiet, ({"t-bill": 58}, 400), ({"t-bill": 58}, 400)])
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.windows == 2 and (alert.observed, alert.denominator) == (116, 800)
    assert (alert.span_start, alert.window_start, alert.window_end) == (
        "2024-05-01T10:00:00Z",
        "2024-05-01T11:00:00Z",
        "2024-05-01T12:00:00Z",
    )
    assert "2 windows of 1h" in alert.explanation


def test_no_alert_on_a_quiet_stream_or_below_minimum_volume():
    rng = random.Random(3)
    windows = [({"t-bill": sum(rng.random() < 0.1 for _ in range(300))}, 300) for _ in range(40)]
    assert run(TrendMonitor(window="1h", grace="0"), windows) == []
    small = [({"t-bill": 1}, 10)] * 10 + [({"t-bill": 9}, 10)]
    assert run(TrendMonitor(window="1h", grace="0", min_volume=20), small) == []
    assert run(TrendMonitor(window="1h", grace="0", min_volume=10), small)  # the same rise, enough volume


def test_cooldown_suppresses_repeats_but_not_an_escalation():
    mon = TrendMonitor(window="1h", grace="0", cooldown_windows=3)
    quiet = [({"t-bill": 40}, 400)] * 10
    rise = [({"t-bill": 66}, 400), ({"t-bill": 160}, 400), ({"t-bill": 160}, 400), ({"t-bill": 160}, 400)]
    alerts = [a for a in run(mon, quiet + rise) if a.dimensions == {}]
    assert [(a.window_end[11:16], a.severity) for a in alerts] == [("11:00", "medium"), ("12:00", "critical")]
    assert mon.stats["suppressed"] >= 2


def test_a_sustained_rise_alerts_again_after_the_cooldown():
    mon = TrendMonitor(window="1h", grace="0", cooldown_windows=2)
    windows = [({"t-bill": 40}, 400)] * 10 + [({"t-bill": 100}, 400)] * 4
    ends = [a.window_end[11:16] for a in run(mon, windows)]
    assert ends == ["11:00", "14:00"]


def test_the_empathy_aggregate_alerts_when_no_single_empathy_theme_does():
    quiet = [({"t-rude": 20, "t-robot": 20, "t-dismiss": 20}, 500)] * 12
    rise = ({"t-rude": 30, "t-robot": 30, "t-dismiss": 30}, 500)
    alerts = run(TrendMonitor(window="1h", grace="0"), [*quiet, rise])
    assert [a.theme_id for a in alerts] == [EMPATHY_THEME_ID]
    alert = alerts[0]
    assert alert.aggregate and alert.empathy_category == "all"
    assert alert.observed == 90 and alert.expected == pytest.approx(60, rel=0.05)
    assert "empathy" in alert.theme_label


def test_alert_ids_are_deterministic_across_replays():
    def replay():
        sim = FeedbackSimulator(
            seed=11,
            items_per_window=400,
            window="1h",
            start=T0,
            injections=[
                Injection("rude", 4.0, T0 + timedelta(hours=8), T0 + timedelta(hours=10), {"team": "care-east"}),
            ],
        )
        mon = TrendMonitor(window="1h", grace="5m")
        alerts = []
        for item in sim.until(T0 + timedelta(hours=10)):
            alerts += mon.observe(
                Observation(
                    item.feedback_id,
                    item.event_time,
                    item.truth,
                    item.theme_label,
                    item.empathy_category,
                    item.dimensions,
                    item.text,
                    theme_empathy_category=item.empathy_category,
                )
            )
        return alerts + mon.flush()

    first, second = replay(), replay()
    assert first and [a.alert_id for a in first] == [a.alert_id for a in second]
    assert len({a.alert_id for a in first}) == len(first)
    team_rude = [a for a in first if a.theme_id == "rude" and a.dimensions == {"team": "care-east"}]
    assert team_rude and team_rude[0].window_end <= "2024-05-01T10:00:00Z"


def test_alert_message_validates_against_the_schema():
    validator = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    Draft202012Validator.check_schema(SCHEMA)
    alerts = run(TrendMonitor(window="1h", grace="0"), [({"t-rude": 20}, 400)] * 8 + [({"t-rude": 60}, 400)])
    assert alerts
    for alert in alerts:
        message = alert.to_message()
        validator.validate(message)
        assert message["schema_version"] == 1
        assert json.loads(json.dumps(message)) == message
    broken = {**alerts[0].to_message(), "severity": "apocalyptic"}
    assert not validator.is_valid(broken)
    missing = {k: v for k, v in alerts[0].to_message().items() if k != "window_end"}
    assert not validator.is_valid(missing)


def test_one_empathy_theme_rising_alerts_once_not_again_as_the_aggregate():
    quiet = [({"t-rude": 20, "t-robot": 20}, 500)] * 12
    alerts = run(TrendMonitor(window="1h", grace="0"), [*quiet, ({"t-rude": 70, "t-robot": 20}, 500)])
    assert [a.theme_id for a in alerts] == ["t-rude"]
    assert alerts[0].empathy_category == "rude" and not alerts[0].aggregate


def test_a_theme_alert_reports_the_themes_own_empathy_category_not_its_last_items():
    """Items are matched to the taxonomy one by one, so a theme of rude complaints holds a few items called
    "dismissive", and a delivery theme a few called "rude". The demo's alert on its "attitude, rude" theme read
    "dismissive" because the monitor kept the category of the theme's latest item."""
    mon = TrendMonitor(window="1h", grace="0")
    own = {"t-attitude": "rude", "t-late": None}
    odd = {"t-attitude": "dismissive", "t-late": "rude"}  # what the theme's last item of each window is called
    alerts = []
    for w, (attitude, late) in enumerate([(20, 20)] * 12 + [(70, 70)]):
        labels = ["t-attitude"] * attitude + ["t-late"] * late + ["t-other"] * (500 - attitude - late)
        random.Random(w).shuffle(labels)
        last = {t: max(i for i, x in enumerate(labels) if x == t) for t in own}
        for i, theme in enumerate(labels):
            item = odd.get(theme) if i == last.get(theme) else own.get(theme)
            alerts += mon.observe(Observation(
                feedback_id=f"{w}-{i}", event_time=T0 + timedelta(hours=w, seconds=3600 * i / 500),
                theme_id=theme, theme_label=theme.removeprefix("t-"), empathy_category=item,
                dimensions={}, text=f"quote {i}", theme_empathy_category=own.get(theme)))
    alerts += mon.flush()
    by_theme = {a.theme_id: a for a in alerts}
    # the rude theme speaks for the rude category's aggregate (the demo alerted on both)
    assert sorted(by_theme) == ["t-attitude", "t-late"], [a.theme_id for a in alerts]
    assert by_theme["t-attitude"].empathy_category == "rude"
    assert by_theme["t-late"].empathy_category is None


def test_an_assignment_without_the_themes_category_falls_back_to_the_items():
    from insights.trend_stage import observation_from_assignment

    message = {"feedback_id": "f1", "event_time": "2024-05-01T10:00:00Z", "theme_id": "t-late",
               "theme_label": "late", "empathy_category": "rude", "dimensions": {}, "text": "late and rude"}
    assert observation_from_assignment({**message, "theme_empathy_category": None}).theme_empathy_category is None
    assert observation_from_assignment(message).theme_empathy_category == "rude"  # written before the field


@pytest.mark.parametrize("born_after", [0, 30])
def test_a_theme_born_mid_stream_is_judged_on_its_own_windows(born_after):
    """A theme discovered after 30 quiet hours must behave as one there from the start: its steady rate is no rise,
    and a tripling is. Its denominator and its spread were read over the windows before it existed (the state's
    copy dropped them): the steady theme alerted at 7.6x, and the tripled one was drowned in a spread of 12."""
    quiet = [({}, 400)] * born_after
    steady = run(TrendMonitor(window="1h", grace="0"), [*quiet, *[({"t-new": 20}, 400)] * 12])
    assert steady == [], [(a.theme_id, a.ratio) for a in steady]
    tripled = run(TrendMonitor(window="1h", grace="0"), [*quiet, *[({"t-new": 20}, 400)] * 8, ({"t-new": 60}, 400)])
    assert [a.theme_id for a in tripled] == ["t-new"]
    assert tripled[0].expected == pytest.approx(20, rel=0.25)


def _merge_stream(merge_at: int, windows: int, rise_from: int | None = None, follow: bool | str = True):
    """Two themes of 40 items in 500 an hour. At ``merge_at`` (half-way through that window) the registry merges
    t-a into t-b: from then on t-a's items arrive as t-b, but for a few a lagging worker still assigns to t-a.
    From ``rise_from`` the merged theme doubles. ``follow``: whether the trend stage is told of the merge;
    ``"registry"``: it asks a registry before every 50 items, as the stream does, and hears of it that way."""
    from insights.trend_stage import TrendStage

    stage = TrendStage(None, TrendMonitor(window="1h", grace="0"))
    alerts = []
    for w in range(windows):
        labels = ["t-a"] * 40 + ["t-b"] * 40 + ["t-other"] * 420
        if rise_from is not None and w >= rise_from:
            labels = ["t-a"] * 80 + ["t-b"] * 80 + ["t-other"] * 340
        random.Random(w).shuffle(labels)
        messages = []
        for i, theme in enumerate(labels):
            merged = (w, i) >= (merge_at, 250)
            if merged and theme == "t-a" and i % 20:  # one in twenty still assigned to t-a: a worker behind
                theme = "t-b"
            messages.append({"feedback_id": f"{w}-{i}", "event_time": (T0 + timedelta(hours=w, seconds=7 * i))
                             .isoformat(), "theme_id": theme, "theme_label": theme, "empathy_category": None,
                             "theme_empathy_category": None, "dimensions": {}, "text": f"quote {i}", "revision": 0})
            if follow == "registry" and i % 50 == 49:
                alerts += stage.observe(messages)
                messages = []
                stage.follow_registry({"t-a": "t-b"} if (w, i) >= (merge_at, 250) else {})
            elif follow and (w, i) == (merge_at, 250):
                alerts += stage.observe(messages)
                messages = []
                stage.follow_merges(merges([{"theme_id": "t-a", "related_theme_ids": ["t-b"], "event_type": "merge",
                                             "theme": {"theme_id": "t-a", "status": "merged"}}]))
        alerts += stage.observe(messages)
    return alerts + stage.flush(), stage


def test_a_merge_of_two_themes_is_not_a_rise_but_a_rise_after_it_is():
    unfollowed, _ = _merge_stream(merge_at=12, windows=16, follow=False)
    assert "t-b" in [a["theme_id"] for a in unfollowed], "the survivor doubles: the false alert this is about"
    followed, stage = _merge_stream(merge_at=12, windows=16)
    assert followed == []
    assert stage.monitor.counts.state["r"] == {"t-a": "t-b"} and "t-a" not in stage.monitor.counts.births()
    rise, _ = _merge_stream(merge_at=12, windows=18, rise_from=16)
    assert [(a["theme_id"], a["window_end"][11:16]) for a in rise] == [("t-b", "17:00")]
    from_registry, stage = _merge_stream(merge_at=12, windows=16, follow="registry")
    assert from_registry == [] and stage.monitor.counts.state["r"] == {"t-a": "t-b"}


def test_counts_restored_without_a_merge_take_it_from_the_registry():
    """A rebalance can restore the trend counts from a changelog that lacks a merge the old owner learnt (it moved
    before the flush). The new owner's registry, rebuilt from cx.themes, knows it: the counts catch up, chains
    included, and asking again changes nothing."""
    from insights.trend_stage import TrendStage

    monitor = TrendMonitor(window="1h", grace="1h")
    for i, theme in enumerate(["t-x"] * 3 + ["t-a"] * 5 + ["t-b"] * 4):
        monitor.observe(Observation(f"f{i}", T0 + timedelta(minutes=i), theme, theme, None, {"team": "x"}, "q"))
    restored = TrendStage(None, TrendMonitor(window="1h", grace="1h", state=dict(monitor.state)))
    known = {"t-x": "t-a", "t-a": "t-b"}  # t-x merged into t-a, later t-a into t-b
    assert restored.follow_registry(known) == 2
    assert restored.monitor.counts.redirects() == {"t-x": "t-b", "t-a": "t-b"}
    window = restored.monitor.counts.records(restored.monitor.counts.open_windows()[0])
    assert window[""]["t"] == {"t-b": 12} and window["team=x"]["t"] == {"t-b": 12}
    assert restored.follow_registry(known) == 0
    assert restored.follow_registry({**known, "t-b": "t-c"}) == 3
    assert restored.monitor.counts.redirects() == {"t-x": "t-c", "t-a": "t-c", "t-b": "t-c"}


def test_merge_chains_are_followed_to_their_end():
    from insights.lineage import survivor, unapplied_merges

    known = {"a": "b", "b": "c", "x": "y"}
    assert [survivor(known, t) for t in ("a", "b", "c", "x", "q")] == ["c", "c", "c", "y", "q"]
    assert unapplied_merges(known, {"a": "b", "x": "y"}) == [("a", "b"), ("b", "c")]
    assert unapplied_merges(known, {"a": "c", "b": "c", "x": "y"}) == []
