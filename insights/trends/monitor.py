"""The trend monitor: count feedback per event-time window and slice, test each closed window, alert."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from insights.trends.counts import TOTAL, WindowCounts, slice_dimensions
from insights.trends.explain import explain
from insights.trends.history import History
from insights.trends.model import (
    EMPATHY_CATEGORY_ALL,
    EMPATHY_LABEL,
    EMPATHY_THEME_ID,
    Alert,
    Observation,
    category_label,
    category_of,
)
from insights.trends.stats import TailTest, severity, severity_rank, tail_test
from insights.trends.windows import WindowClock, iso, to_utc

MAX_PENDING_ROWS = 200_000
PRAISE_MIN_SCORED_IN_WINDOW = 10  # scored items of a praise theme in one window and slice that can overrule its history


@dataclass(frozen=True, slots=True)
class _Candidate:
    key: str
    theme: str
    windows: int
    test: TailTest
    p_adjusted: float
    members: tuple[str, ...] = ()  # a coarse theme's: the themes whose sum was tested


class TrendMonitor:
    """Event-time windows, per-slice baselines and alerts; all state in one injected mapping.

    A slice is the whole stream or one dimension value (``agent_id=a-07``, ``team=billing``, any user-mapped
    dimension); per slice every theme and the empathy aggregate are counted with the slice's item count as
    denominator. When a window closes (watermark past its end + grace) each theme of each slice is tested over
    the last 1, 2 and 3 windows against the slice's own discounted history (agents shrunk towards their team,
    other slices towards the whole stream) with a beta-binomial tail; the smallest p, Bonferroni-corrected for
    the three spans, must be below ``p_value``. Alerts also need ``min_volume`` items of the slice in the
    closing window, ``min_observed`` items of the theme in the tested span, a rise of at least ``min_ratio``,
    ``warmup_windows`` of the slice's own history, and no alert of the same or higher severity for that slice
    and theme in the last ``cooldown_windows`` windows.

    Alerts are for complaints: a theme whose scored members are satisfied on average (``praise_satisfaction``
    or more on a 0-100 scale, over at least ``praise_min_scored`` items) is not tested, since more people
    saying "fantastic experience" is no incident, unless at least ``PRAISE_MIN_SCORED_IN_WINDOW`` of its
    scored members in the closing window of that slice average below it. Empathy themes, categories and the
    aggregate are always tested; ``praise_satisfaction=None`` tests every theme.

    A coarse theme (a group of themes, from the assignments' ``coarse_theme_id``) is tested as the sum of its
    members, each on its own baseline: a rise spread over several related themes, none significant alone, still
    alerts. The group is read as it stands when the window closes, so a regrouping is no jump: the members'
    histories come with them. Members too new to have a baseline, and praise themes, are left out of both sides.
    """

    def __init__(
        self,
        window: str | timedelta = "1h",
        grace: str | timedelta = "1h",
        min_volume: int = 20,
        cooldown_windows: int = 3,
        p_value: float = 0.001,
        state: MutableMapping[str, Any] | None = None,
        *,
        min_observed: int = 5,
        min_ratio: float = 1.2,
        baseline_half_life: float = 12.0,
        guard_windows: int = 2,
        prior_strength: float = 200.0,
        warmup_windows: int = 3,
        history_ttl_windows: int | None = None,
        count_rows: bool = True,
        praise_satisfaction: float | None = 70.0,
        praise_min_scored: int = 30,
    ) -> None:
        self.clock = WindowClock.of(window, grace)
        self.window_length = window if isinstance(window, str) else f"{int(self.clock.seconds)}s"
        self.state: MutableMapping[str, Any] = {} if state is None else state
        self.counts = WindowCounts(self.state, self.clock)
        self.history = History(self.state, baseline_half_life, guard_windows, prior_strength)
        self.min_volume = min_volume
        self.min_observed = min_observed
        self.min_ratio = min_ratio
        self.cooldown_windows = cooldown_windows
        self.p_value = p_value
        self.spans = guard_windows + 1
        self.warmup_windows = warmup_windows
        self.history_ttl = history_ttl_windows or max(100, int(10 * baseline_half_life))
        self.count_rows = count_rows
        self.praise_satisfaction = praise_satisfaction
        self.praise_min_scored = praise_min_scored
        self._dirty: set[tuple[int, str, str]] = set()
        self._pending_rows: list[dict[str, Any]] = []
        self.stats = {"tested": 0, "slice_windows": 0, "alerts": 0, "suppressed": 0, "praise": 0}

    # -- the interface ----------------------------------------------------------------------------------
    def observe(self, obs: Observation, advance: bool = True) -> list[Alert]:
        """Count one assignment; windows its event time makes final are tested (returned alerts).

        ``advance=False`` leaves the watermark to the caller (a stream whose partitions lag each other).
        """
        changed = self.counts.add(obs)
        if self.count_rows:
            self._dirty.update(changed)
        return self.advance(obs.event_time) if advance else []

    def advance(self, watermark: datetime) -> list[Alert]:
        """Move event time forward (e.g. on idle partitions); closes and tests windows older than
        ``watermark - grace``."""
        mark = self.counts.raise_watermark(to_utc(watermark).timestamp())
        alerts: list[Alert] = []
        for win in self.counts.closable(mark):
            alerts.extend(self._close(win))
        return alerts

    def flush(self) -> list[Alert]:
        """End of a replay: close and test every window still open."""
        alerts: list[Alert] = []
        for win in self.counts.open_windows():
            alerts.extend(self._close(win))
        return alerts

    def merge_theme(self, absorbed: str, survivor: str) -> None:
        """The registry merged ``absorbed`` into ``survivor``: from now on they are counted and tested as one theme.

        Why: the survivor's rate jumps by the absorbed theme's at once, and tested against its own history alone
        that jump is an alert about nothing customers said (2x on two themes of equal size). Its history, open
        windows, birth and satisfaction become the survivor's; later assignments to it count as the survivor's.
        """
        if absorbed == survivor:
            return
        changed = self.counts.merge_theme(absorbed, survivor)
        if self.count_rows:
            self._dirty.update(changed)
        self.history.merge_theme(absorbed, survivor)

    @property
    def late_events(self) -> int:
        """Events dropped because their window had already closed (later than the grace period)."""
        return self.counts.late_events()

    def pop_window_counts(self) -> list[dict[str, Any]]:
        """Absolute counts of the cells changed since the last call, as rows for the insight store."""
        rows = self._pending_rows
        for win in sorted({w for w, _, _ in self._dirty}):
            rows.extend(self._rows(win, self.counts.records(win), self._dirty))
        self._pending_rows, self._dirty = [], set()
        return rows

    # -- closing a window -------------------------------------------------------------------------------
    def _close(self, win: int) -> list[Alert]:
        records = self.counts.records(win)
        if self.count_rows:
            self._pending_rows.extend(self._rows(win, records, self._dirty))
            self._dirty = {cell for cell in self._dirty if cell[0] != win}
            del self._pending_rows[:-MAX_PENDING_ROWS]
        self.counts.take(win)
        self.history.begin(list(records))
        for key, record in records.items():
            if record.get("team"):
                self.history.record(key)["team"] = record["team"]
        groups = self.counts.groups()
        candidates = [c for key in sorted(records) for c in self._test_slice(win, key, records[key], groups)]
        # The most specific alert of a slice speaks for the aggregates above it: an empathy theme's rise is not
        # repeated as its category's, nor either as all empathy complaints', nor a theme's as its coarse theme's.
        fine = {(c.key, c.theme) for c in candidates if not c.members}
        themed = {
            (c.key, self._empathy_of(c.theme))
            for c in candidates
            if not c.members and c.theme != EMPATHY_THEME_ID and not category_of(c.theme) and self._empathy_of(c.theme)
        }
        any_specific = {
            c.key for c in candidates if not c.members and c.theme != EMPATHY_THEME_ID and self._empathy_of(c.theme)
        }
        alerts = []
        for cand in candidates:
            category = category_of(cand.theme)
            repeated = (
                (cand.theme == EMPATHY_THEME_ID and cand.key in any_specific)
                or (category is not None and (cand.key, category) in themed)
                or any((cand.key, member) in fine for member in cand.members)
            )
            if repeated:
                rank = severity_rank(severity(cand.test.observed / cand.test.expected, cand.test.observed))
                self.history.set_cooldown(cand.key, cand.theme, win, rank, self.cooldown_windows)
                self.stats["suppressed"] += 1
                continue
            alert = self._alert(win, cand, records[cand.key])
            if alert is not None:
                alerts.append(alert)
        births = self.counts.births()
        for key, record in records.items():
            counts = {t: c for t, c in record["t"].items()}
            self.history.push(key, win, record["n"], counts, record.get("team"), births)
        self.history.save(list(records))
        self.history.expire(win - self.history_ttl)
        self.stats["alerts"] += len(alerts)
        return alerts

    def _empathy_of(self, theme: str) -> str | None:
        return category_of(theme) or self.counts.theme_info(theme)[1]

    def _is_praise(self, theme: str, record: dict[str, Any]) -> bool:
        """Satisfied members over the long run, and not contradicted by the slice's closing window: complaints
        that land in a praise theme (they share its words) are tested whatever the theme's history says."""
        if self.praise_satisfaction is None or theme == EMPATHY_THEME_ID or self._empathy_of(theme):
            return False
        known = self.counts.satisfaction(theme)
        if known is None or known[1] < self.praise_min_scored or known[0] < self.praise_satisfaction:
            return False
        total, scored = (record.get("s") or {}).get(theme) or (0.0, 0)
        return scored < PRAISE_MIN_SCORED_IN_WINDOW or total / scored >= self.praise_satisfaction

    def _test_slice(
        self, win: int, key: str, record: dict[str, Any], groups: dict[str, list[str]] | None = None
    ) -> list[_Candidate]:
        history = self.history
        if history.record(key)["nw"] < self.warmup_windows or record["n"] < self.min_volume:
            return []
        found: list[_Candidate] = []
        tested_slice = False
        births = self.counts.births()
        live: set[str] = set()
        for theme in sorted(record["t"]):
            if win - births.get(theme, win) < self.warmup_windows:
                continue  # too new to have a baseline of its own
            if self._is_praise(theme, record):
                self.stats["praise"] += 1
                continue
            live.add(theme)
            tested, candidate = self._test_sum(win, key, record, theme, (theme,), history.baseline(key, theme),
                                               history.dispersion(key, theme))
            tested_slice |= tested
            if candidate:
                found.append(candidate)
        known = history.record(key)["sx"]
        for coarse, members in sorted((groups or {}).items()):
            # members quiet in this window count too (as zeros) where the slice has a history of them, if they
            # are old enough and not praise; retired ones fade out of that history and so out of the sum
            summed = [t for t in members if t in live or (
                t not in record["t"] and t in known and win - births.get(t, win) >= self.warmup_windows
                and not self._is_praise(t, record))]
            if len(summed) < 2:
                continue  # one member: its own test says it all
            base, dispersion = history.combined(key, summed)
            tested, candidate = self._test_sum(win, key, record, coarse, tuple(summed), base, dispersion)
            tested_slice |= tested
            if candidate:
                found.append(candidate)
        self.stats["slice_windows"] += tested_slice
        return found

    def _test_sum(
        self, win: int, key: str, record: dict[str, Any], theme: str, members: tuple[str, ...], base: Any,
        dispersion: float,
    ) -> tuple[bool, _Candidate | None]:
        """Test the count of ``members`` together over the last 1..spans windows against ``base``: whether a test
        ran (not with too few items), and the candidate alert if the count rose."""
        best: tuple[int, TailTest] | None = None
        for k in range(1, self.spans + 1):
            earlier = self.history.recent(key, win, k)
            if len(earlier) != k - 1:
                continue
            observed = sum(record["t"].get(t, 0) + sum(e[2].get(t, 0) for e in earlier) for t in members)
            trials = record["n"] + sum(e[1] for e in earlier)
            if observed < self.min_observed:
                continue
            result = tail_test(observed, trials, base, dispersion)
            if best is None or result.p_value < best[1].p_value:
                best = (k, result)
        if best is None:
            return False, None
        self.stats["tested"] += 1
        k, result = best
        p_adjusted = min(1.0, result.p_value * self.spans)
        if p_adjusted <= self.p_value and result.observed >= self.min_ratio * result.expected:
            return True, _Candidate(key, theme, k, result, p_adjusted, members if members != (theme,) else ())
        return True, None

    def _alert(self, win: int, cand: _Candidate, record: dict[str, Any]) -> Alert | None:
        test = cand.test
        ratio = test.observed / test.expected
        level = severity(ratio, test.observed)
        rank = severity_rank(level)
        last = self.history.cooldown(cand.key, cand.theme)
        if last is not None and win - last[0] <= self.cooldown_windows and rank <= last[1]:
            self.stats["suppressed"] += 1
            return None
        self.history.set_cooldown(cand.key, cand.theme, win, rank, self.cooldown_windows)
        if cand.theme == EMPATHY_THEME_ID:
            label, empathy, aggregate = EMPATHY_LABEL, EMPATHY_CATEGORY_ALL, True
        elif category_of(cand.theme):
            empathy = category_of(cand.theme)
            label, aggregate = category_label(empathy), True
        elif cand.members:  # a coarse theme: its label; an empathy category only if all its tested members share one
            categories = {self._empathy_of(t) for t in cand.members}
            name = self.counts.theme_info(cand.theme)[0] or cand.theme
            label, empathy, aggregate = f"{name} (group of {len(cand.members)} themes)", None, True
            if len(categories) == 1:
                empathy = categories.pop()
        else:
            info = self.counts.theme_info(cand.theme)
            label, empathy, aggregate = info[0], info[1], False
        dims = slice_dimensions(cand.key)
        start, end = iso(self.clock.start(win)), iso(self.clock.end(win))
        baseline_rate = test.expected / test.trials
        return Alert(
            alert_id=Alert.make_id(cand.key, cand.theme, end),
            theme_id=cand.theme,
            theme_label=label,
            empathy_category=empathy,
            dimensions=dims,
            window_start=start,
            window_end=end,
            span_start=iso(self.clock.start(win - cand.windows + 1)),
            observed=test.observed,
            expected=test.expected,
            ratio=ratio,
            p_value=cand.p_adjusted,
            z=test.z,
            severity=level,
            denominator=test.trials,
            baseline_rate=baseline_rate,
            observed_rate=test.observed / test.trials,
            windows=cand.windows,
            window_length=self.window_length,
            aggregate=aggregate,
            quotes=self._quotes(cand, record),
            explanation=explain(
                label or cand.theme,
                dims,
                test.observed,
                test.trials,
                cand.windows,
                self.window_length,
                end,
                test.expected,
                baseline_rate,
                cand.p_adjusted,
            ),
        )

    def _quotes(self, cand: _Candidate, record: dict[str, Any]) -> list[str]:
        """Up to 3 quotes of the window: a coarse theme's from its busiest members first."""
        members = sorted(cand.members, key=lambda t: -record["t"].get(t, 0)) if cand.members else [cand.theme]
        return [q[1] for t in members for q in record["q"].get(t, [])][:3]

    def _rows(self, win: int, records: dict[str, dict[str, Any]], cells: set) -> list[dict[str, Any]]:
        start, end = self.clock.start(win), self.clock.end(win)
        rows = []
        for w, key, theme in sorted(cells):
            record = records.get(key)
            if w != win or record is None:
                continue
            dims = slice_dimensions(key)
            name, value = next(iter(dims.items())) if dims else (TOTAL, TOTAL)
            count = record["n"] if theme == TOTAL else record["t"].get(theme, 0)
            rows.append(
                {
                    "window_start": start,
                    "window_end": end,
                    "theme_id": theme,
                    "dimension": name,
                    "value": value,
                    "count": count,
                    "total": record["n"],
                }
            )
        return rows
