"""Event-time windows: alignment, grace for late events, closing, bounded and JSON-able state, restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from insights.trends import EMPATHY_THEME_ID, Observation, TrendMonitor, parse_duration

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def obs(fid: str, minute: float, theme: str | None = "t-bill", dims: dict | None = None, **kw) -> Observation:
    return Observation(
        feedback_id=fid,
        event_time=T0 + timedelta(minutes=minute),
        theme_id=theme,
        theme_label=kw.pop("label", theme),
        empathy_category=kw.pop("empathy", None),
        dimensions=dims if dims is not None else {"agent_id": "a-01", "team": "t1"},
        text=kw.pop("text", f"comment {fid}"),
        **kw,
    )


def counts(rows: list[dict], theme: str = "__all__", dimension: str = "__all__") -> dict[datetime, int]:
    return {r["window_start"]: r["count"] for r in rows if r["theme_id"] == theme and r["dimension"] == dimension}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), ("90s", 90), ("0", 0), (60, 60)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "1x", "hour", "1h 2y", "-5m"])
def test_parse_duration_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_windows_are_aligned_to_the_epoch():
    mon = TrendMonitor(window="1d", grace="0")
    assert mon.clock.start(mon.clock.index(datetime(2024, 5, 1, 23, 59, tzinfo=UTC))) == datetime(
        2024, 5, 1, tzinfo=UTC
    )
    naive = datetime(2024, 5, 1, 10, 0)
    with pytest.raises(ValueError):
        mon.observe(Observation("x", naive, "t", "t", None, {}, "text"))


def test_late_event_within_grace_counts_in_its_own_window_and_later_ones_are_dropped():
    mon = TrendMonitor(window="1h", grace="30m")
    for fid, minute in [("a", 10), ("b", 50), ("c", 80)]:  # c is in the 11:00 window; watermark 11:20
        mon.observe(obs(fid, minute))
    mon.observe(obs("late-ok", 40))  # 10:40 arrives at watermark 11:20 < 11:30: still counts
    assert mon.counts.open_windows() == [mon.clock.index(T0), mon.clock.index(T0) + 1]
    mon.observe(obs("d", 91))  # watermark 11:31 closes the 10:00 window
    assert mon.counts.open_windows() == [mon.clock.index(T0) + 1]
    rows = mon.pop_window_counts()
    assert counts(rows)[T0] == 3
    assert counts(rows, "t-bill", "agent_id")[T0] == 3
    mon.observe(obs("too-late", 45))
    assert mon.late_events == 1
    assert T0 not in counts(mon.pop_window_counts())


def test_advance_closes_on_an_idle_stream_and_flush_closes_everything():
    mon = TrendMonitor(window="15m", grace="5m")
    mon.observe(obs("a", 1))
    mon.observe(obs("b", 16))
    mon.advance(T0 + timedelta(minutes=19))
    assert len(mon.counts.open_windows()) == 2
    mon.advance(T0 + timedelta(minutes=20))
    assert len(mon.counts.open_windows()) == 1
    mon.flush()
    assert mon.counts.open_windows() == []


def test_an_out_of_date_assignment_does_not_bring_back_a_themes_old_label_or_category():
    mon = TrendMonitor(window="1h", grace="1h")
    mon.observe(obs("f1", 5, theme="t-a", label="rude, attitude", theme_empathy_category="rude", revision=2))
    mon.observe(obs("f1", 5, theme="t-a", label="attitude", theme_empathy_category=None, revision=1))
    assert mon.counts.theme_info("t-a") == ("rude, attitude", "rude")
    mon.observe(obs("f2", 6, theme="t-a", label="rude staff", theme_empathy_category="rude"))  # a newer one counts
    assert mon.counts.theme_info("t-a") == ("rude staff", "rude")


def test_reassignment_moves_the_count_instead_of_double_counting():
    mon = TrendMonitor(window="1h", grace="1h")
    mon.observe(obs("f1", 5, theme=None))
    mon.observe(obs("f1", 5, theme="t-rude", empathy="rude", previous_theme_id=None, revision=1))
    rows = mon.pop_window_counts()
    assert counts(rows)[T0] == 1
    assert counts(rows, "t-rude")[T0] == 1
    assert counts(rows, EMPATHY_THEME_ID)[T0] == 1
    mon.observe(obs("f1", 5, theme="t-rude", empathy="rude", revision=1))  # re-delivery: no change
    assert mon.pop_window_counts() == []
    mon.observe(obs("f1", 5, theme="t-other", previous_theme_id="t-rude", revision=2))
    rows = mon.pop_window_counts()
    assert counts(rows, "t-rude")[T0] == 0
    assert counts(rows, "t-other")[T0] == 1
    assert counts(rows, EMPATHY_THEME_ID)[T0] == 0
    mon.observe(obs("f1", 5, theme="t-rude", empathy="rude", revision=1))  # out of date: ignored
    assert mon.pop_window_counts() == []
    record = mon.counts.records(mon.clock.index(T0))[""]
    assert record["n"] == 1
    assert record["t"] == {"t-other": 1}


def test_many_unassigned_then_reassigned_keep_the_denominator():
    mon = TrendMonitor(window="1h", grace="1h")
    for i in range(50):
        mon.observe(obs(f"u{i}", i, theme=None))
    for i in range(50):
        mon.observe(obs(f"u{i}", i, theme="t-new", previous_theme_id=None, revision=1))
    record = mon.counts.records(mon.clock.index(T0))["team=t1"]
    assert record["n"] == 50
    assert record["t"] == {"t-new": 50}
    assert len(record["q"]["t-new"]) == 3


def test_state_is_bounded_json_able_and_survives_a_restart():
    def stream():
        for i in range(24 * 30):
            minute = i * 2
            agent = f"a-{i % 5}"
            theme = "t-rude" if i % 7 == 0 else "t-ok"
            yield obs(
                f"f{i}",
                minute,
                theme=theme,
                dims={"agent_id": agent, "team": "t1"},
                empathy="rude" if theme == "t-rude" else None,
            )

    items = list(stream())
    whole = TrendMonitor(window="1h", grace="10m", state={})
    for o in items:
        whole.observe(o)
    # the same stream, interrupted half way: the state travels through JSON, as through a changelog
    first = TrendMonitor(window="1h", grace="10m", state={})
    for o in items[: len(items) // 2]:
        first.observe(o)
    restored = json.loads(json.dumps(first.state))
    second = TrendMonitor(window="1h", grace="10m", state=restored)
    for o in items[len(items) // 2 :]:
        second.observe(o)
    assert second.state == json.loads(json.dumps(whole.state))
    keys = list(whole.state)
    open_windows = {int(k.split("|")[1]) for k in keys if k.startswith(("w|", "f|", "i|"))}
    assert open_windows == set(whole.counts.open_windows())
    assert len(open_windows) <= 2
    assert sum(k.startswith("f|") for k in keys) < 40  # only the open window's ids are remembered


def test_history_of_a_slice_not_seen_for_long_expires():
    mon = TrendMonitor(window="1h", grace="0", history_ttl_windows=5)
    mon.observe(obs("old", 1, dims={"agent_id": "a-gone"}))
    for h in range(1, 10):
        mon.observe(obs(f"n{h}", 60 * h + 1, dims={"agent_id": "a-here"}))
    assert "h|agent_id=a-here" in mon.state
    assert "h|agent_id=a-gone" not in mon.state
