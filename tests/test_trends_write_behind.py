"""The write-behind view over the trend state: same alerts and same state as writing through, far fewer writes."""

from __future__ import annotations

from collections import UserDict
from datetime import timedelta

import pytest

from insights.trends import TrendMonitor
from insights.trends.write_behind import WriteBehindState
from tests.test_trends_alerts import T0, feed_window


class CountingDict(UserDict):
    """A mapping that counts writes and deletes, as a changelog topic would receive them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.record_writes = 0  # of everything but the per-item dedup keys (f|...), which are one per item

    def __setitem__(self, key, value) -> None:
        self._count(key)
        super().__setitem__(key, value)

    def __delitem__(self, key) -> None:
        self._count(key)
        super().__delitem__(key)

    def _count(self, key: str) -> None:
        self.writes += 1
        self.record_writes += not key.startswith("f|")


def _quiet_then_rise(mon: TrendMonitor, state: WriteBehindState | None) -> list:
    alerts = []
    for w in range(12):
        rude = 4 if w < 9 else 30
        for dims in ({"agent_id": "a-1", "team": "t"}, {"agent_id": "a-2", "team": "t"}):
            alerts += feed_window(mon, w, {"t-rude": rude, "t-late": 10}, 150, dims)
            if state is not None:
                state.flush()  # a batch per window and agent
    alerts += mon.advance(T0 + timedelta(hours=14))
    if state is not None:
        state.flush()
    return alerts


def test_write_behind_gives_the_same_alerts_and_state_with_far_fewer_writes():
    direct = CountingDict()
    expected = _quiet_then_rise(TrendMonitor(state=direct, p_value=1e-4), None)
    backing = CountingDict()
    buffered = WriteBehindState(backing)
    got = _quiet_then_rise(TrendMonitor(state=buffered, p_value=1e-4), buffered)

    assert expected, "the rise was not detected, so nothing was compared"
    assert [a.to_message()["alert_id"] for a in got] == [a.to_message()["alert_id"] for a in expected]
    assert dict(backing) == dict(direct)
    assert buffered.pending == 0
    assert backing.writes * 2 < direct.writes, (backing.writes, direct.writes)
    # the window records (rewritten with every item when written through) are written once per batch
    assert backing.record_writes * 20 < direct.record_writes, (backing.record_writes, direct.record_writes)


def test_reads_see_unflushed_writes_and_deletes():
    backing = {"a": 1, "b": 2}
    view = WriteBehindState(backing)
    view["a"] = 10
    del view["b"]
    view["c"] = 3
    assert view["a"] == 10 and "b" not in view and view.get("b") is None and view["c"] == 3
    assert sorted(view) == ["a", "c"] and len(view) == 2
    assert backing == {"a": 1, "b": 2}, "nothing reaches the backing mapping before a flush"
    with pytest.raises(KeyError):
        del view["b"]
    view["b"] = 4  # deleted, then written again: the write wins
    assert view.flush() == 3
    assert backing == {"a": 10, "b": 4, "c": 3}


def test_a_window_whose_index_outlived_a_slice_record_still_closes():
    """A kill in the middle of a flush can recover the window index without one of its slice records."""
    state: dict = {}
    mon = TrendMonitor(state=state, p_value=1e-4)
    feed_window(mon, 0, {"t-rude": 4, "t-late": 10}, 150, {"agent_id": "a-1", "team": "t"})
    win = next(int(k.split("|")[1]) for k in state if k.startswith("i|"))
    del state[f"w|{win}|agent_id=a-1"]  # what a partial changelog leaves behind
    assert "agent_id=a-1" in state[f"i|{win}"]
    mon.advance(T0 + timedelta(hours=5))
    assert not any(k.startswith(f"w|{win}|") or k.startswith(f"i|{win}") for k in state), "window not closed"
