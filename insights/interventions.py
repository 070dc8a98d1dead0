"""Did an intervention work? Difference in differences against the teams that did not get it.

An intervention (coaching, a script change, a staffing fix) starts on a date and applies to some teams and/or
agents. For a metric (the empathy-complaint rate, one theme's rate, or the mean normalised score), compare the
treated slice after vs before the start with the untreated teams over the same period:

- rates: ``ratio = (treated_after / treated_before) / (control_after / control_before)``, reported as a relative
  change ("fell by 35%"): a company-wide rise or fall (a product bug, the season) cancels out;
- scores (0-100, see :mod:`insights.impact`): ``(treated_after - treated_before) - (control_after - control_before)``
  in points.

The interval comes from a paired bootstrap over time units (days by default): units are resampled within the before
and the after periods, treated and control together, so day-to-day swings shared by all teams and over-dispersion
(rates wobble more than binomial noise) widen it as they should; the bootstrap's standard error (log scale for
rates) goes into a Student-t interval with a small-sample correction, since a few weeks are few units. With fewer
than ``MIN_UNITS`` units on a side, a quasi-binomial model interval (delta method, dispersion estimated from the
units) is used instead. The verdict is "no detectable change" whenever the interval contains no change.

Control: rows with a team or agent that the intervention does not cover, leaving out slices covered by any other
recorded intervention that started before the end of the analysed period. The assumption (parallel trends) is
checked on the before period: a placebo start at its midpoint should show no change (``pretrend``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from insights.impact import DEFAULT_CES_HIGH_MEANS, CesHighMeans, normalise_score, utc, value_of

Metric = Literal["empathy", "theme", "score"]
MIN_UNITS = 5
DEFAULT_MAX_PERIOD = timedelta(days=90)


@dataclass(frozen=True)
class InterventionSpec:
    """What the analysis needs of an intervention (an InterventionRecord fits too)."""

    name: str
    started_at: datetime
    teams: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()


def _spec(obj: Any) -> InterventionSpec:
    if isinstance(obj, InterventionSpec):
        return obj
    return InterventionSpec(
        name=value_of(obj, "name"),
        started_at=utc(value_of(obj, "started_at")),
        teams=tuple(value_of(obj, "teams") or ()),
        agents=tuple(value_of(obj, "agents") or ()),
    )


def _covers(spec: InterventionSpec, team: str | None, agent: str | None) -> bool:
    return (team is not None and team in spec.teams) or (agent is not None and agent in spec.agents)


@dataclass
class CellTotals:
    num: float
    den: float

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None


@dataclass
class InterventionEffect:
    """The difference-in-differences estimate of one metric, with its interval and verdict."""

    intervention: str
    metric: Metric
    theme_id: str | None
    started_at: datetime
    period_start: datetime
    period_end: datetime
    unit_seconds: float
    kind: Literal["ratio", "difference"]
    treated_before: CellTotals
    treated_after: CellTotals
    control_before: CellTotals
    control_after: CellTotals
    control_teams: list[str]
    estimate: float | None  # ratio - 1 (relative change) for rates; points for scores
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str
    enough_data: bool
    detectable: bool
    verdict: str
    sentence: str
    pretrend: dict[str, Any] | None = None
    series: dict[str, list] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def cell(c: CellTotals) -> dict[str, float | None]:
            return {"num": c.num, "den": c.den, "value": c.value}

        return {
            "intervention": self.intervention,
            "metric": self.metric,
            "theme_id": self.theme_id,
            "started_at": self.started_at.isoformat(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "unit_seconds": self.unit_seconds,
            "kind": self.kind,
            "treated_before": cell(self.treated_before),
            "treated_after": cell(self.treated_after),
            "control_before": cell(self.control_before),
            "control_after": cell(self.control_after),
            "control_teams": self.control_teams,
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "method": self.method,
            "enough_data": self.enough_data,
            "detectable": self.detectable,
            "verdict": self.verdict,
            "sentence": self.sentence,
            "pretrend": self.pretrend,
            "series": {
                k: [v.isoformat() if isinstance(v, datetime) else v for v in vs] for k, vs in self.series.items()
            },
        }


# -- numbers ------------------------------------------------------------------------------------------------------
def _did(sums: np.ndarray, kind: str) -> np.ndarray:
    """sums[..., 8] = (Tb_num, Tb_den, Ta_num, Ta_den, Cb_num, Cb_den, Ca_num, Ca_den) -> estimate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tb, ta = sums[..., 0] / sums[..., 1], sums[..., 2] / sums[..., 3]
        cb, ca = sums[..., 4] / sums[..., 5], sums[..., 6] / sums[..., 7]
        if kind == "ratio":
            return (ta / tb) / (ca / cb) - 1.0
        return (ta - tb) - (ca - cb)


def _bootstrap(
    before: np.ndarray, after: np.ndarray, kind: str, confidence: float, n_boot: int, seed: int
) -> tuple[float, float] | None:
    """Interval from resampling units within each period (treated and control of a unit together).

    The bootstrap gives the standard error (of the log ratio for rates); the interval is estimate +- t * SE with
    Student's t on (units - 2) degrees of freedom and the SE scaled by sqrt(n / (n - 1)): with two weeks of days a
    plain percentile bootstrap is too narrow (it under-covered a 7 + 7 day placebo check about 3 times as often
    as it should in benchmarks/impact.py).
    """
    rng = np.random.default_rng(seed)
    nb, na = len(before), len(after)
    ib = rng.integers(0, nb, size=(n_boot, nb))
    ia = rng.integers(0, na, size=(n_boot, na))
    sb = before[ib].sum(axis=1)  # (n_boot, 4): T_num, T_den, C_num, C_den
    sa = after[ia].sum(axis=1)
    sums = np.stack([sb[:, 0], sb[:, 1], sa[:, 0], sa[:, 1], sb[:, 2], sb[:, 3], sa[:, 2], sa[:, 3]], axis=1)
    point = np.concatenate([before.sum(axis=0)[[0, 1]], after.sum(axis=0)[[0, 1]], before.sum(axis=0)[[2, 3]],
                            after.sum(axis=0)[[2, 3]]])
    est = _did(sums, kind)
    centre = float(_did(point, kind))
    if kind == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            est = np.log1p(est)
        centre = math.log1p(centre) if centre > -1 else float("nan")
    est = est[np.isfinite(est)]
    if len(est) < 0.95 * n_boot or not math.isfinite(centre):
        return None
    n_min = min(nb, na)
    se = float(est.std(ddof=1)) * math.sqrt(n_min / (n_min - 1))
    t = float(sps.t.ppf(0.5 + confidence / 2, nb + na - 2))
    lo, hi = centre - t * se, centre + t * se
    if kind == "ratio":
        return math.expm1(lo), math.expm1(hi)
    return lo, hi


def _dispersion(units: np.ndarray, num_col: int, den_col: int, kind: str) -> float:
    """Pearson dispersion of per-unit rates (>= 1), for the quasi-binomial model interval."""
    num, den = units[:, num_col], units[:, den_col]
    keep = den > 0
    num, den = num[keep], den[keep]
    if len(num) < 3 or kind != "ratio":
        return 1.0
    p = num.sum() / den.sum()
    if p <= 0 or p >= 1:
        return 1.0
    chi2 = float((((num - den * p) ** 2) / (den * p * (1 - p))).sum())
    return max(1.0, chi2 / (len(num) - 1))


def _model_interval(
    cells: list[tuple[np.ndarray, int, int]], sums: np.ndarray, kind: str, confidence: float,
    variances: list[float] | None = None,
) -> tuple[float, float] | None:
    """Delta-method interval: log ratio of ratios (quasi-binomial) or difference of means (normal)."""
    z = sps.norm.ppf(0.5 + confidence / 2)
    est = float(_did(sums, kind))
    if not math.isfinite(est):
        return None
    if kind == "ratio":
        var = 0.0
        for i, (units, nc, dc) in enumerate(cells):
            x, n = sums[2 * i], sums[2 * i + 1]
            if x <= 0 or n <= 0:
                return None
            var += _dispersion(units, nc, dc, kind) * max(1.0 / x - 1.0 / n, 0.0)
        se = math.sqrt(var)
        log_ratio = math.log(est + 1.0)
        return math.exp(log_ratio - z * se) - 1.0, math.exp(log_ratio + z * se) - 1.0
    if variances is None:
        return None
    se = math.sqrt(sum(variances))
    return est - z * se, est + z * se


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.0f}%"


def verdict_text(estimate: float | None, lo: float | None, hi: float | None, kind: str, confidence: float) -> str:
    """'fell by 35% (95% CI 20% to 48%)', 'rose by 3.1 points (95% CI 0.4 to 5.8)', 'no detectable change (...)'."""
    if estimate is None or lo is None or hi is None:
        return "not enough data to tell"
    pct = round(confidence * 100)
    if kind == "ratio":
        if lo <= 0.0 <= hi:
            return f"no detectable change ({estimate * 100:+.0f}%, {pct}% CI {lo * 100:+.0f}% to {hi * 100:+.0f}%)"
        a, b = sorted((abs(lo), abs(hi)))
        word = "fell" if estimate < 0 else "rose"
        return f"{word} by {_pct(estimate)} ({pct}% CI {a * 100:.0f}% to {b * 100:.0f}%)"
    if lo <= 0.0 <= hi:
        return f"no detectable change ({estimate:+.1f} points, {pct}% CI {lo:+.1f} to {hi:+.1f})"
    a, b = sorted((abs(lo), abs(hi)))
    word = "fell" if estimate < 0 else "rose"
    return f"{word} by {abs(estimate):.1f} points on a 0-100 scale ({pct}% CI {a:.1f} to {b:.1f})"


# -- the analysis -------------------------------------------------------------------------------------------------
@dataclass
class _Prepared:
    unit: int
    treated: bool
    num: float
    den: float
    sq: float  # num squared (for the score's variance)


def _metric_value(row: Any, metric: Metric, theme_id: str | None, ces_high_means: CesHighMeans) -> float | None:
    if metric == "score":
        return normalise_score(value_of(row, "score"), value_of(row, "score_type"), ces_high_means)
    if metric == "theme":
        return 1.0 if value_of(row, "theme_id") == theme_id else 0.0
    return 1.0 if value_of(row, "empathy_category") else 0.0


def analyze_intervention(
    rows: Iterable[Any],
    intervention: Any,
    metric: Metric = "empathy",
    theme_id: str | None = None,
    others: Sequence[Any] = (),
    before: timedelta | None = None,
    after: timedelta | None = None,
    unit: timedelta = timedelta(days=1),
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    min_events: int = 10,
    ces_high_means: CesHighMeans = DEFAULT_CES_HIGH_MEANS,
    label: str | None = None,
) -> InterventionEffect:
    """Difference in differences of ``metric`` for ``intervention`` over ``rows`` (dicts or records).

    ``others``: every other recorded intervention; slices they cover are left out of the control group when they
    started before the end of the analysed period. ``before``/``after``: the period lengths (default: as long as
    the data allows on both sides, equal, at most 90 days). ``unit``: the time unit that is resampled.
    """
    spec = _spec(intervention)
    if metric == "theme" and not theme_id:
        raise ValueError("metric 'theme' needs a theme_id")
    start = spec.started_at
    data = []
    lo_time = hi_time = None
    for row in rows:
        moment = value_of(row, "event_time")
        if moment is None:
            continue
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        moment = utc(moment)
        data.append((moment, row))
        lo_time = moment if lo_time is None or moment < lo_time else lo_time
        hi_time = moment if hi_time is None or moment > hi_time else hi_time
    if before is None or after is None:
        span_before = (start - lo_time) if lo_time and lo_time < start else timedelta(0)
        span_after = (hi_time - start) if hi_time and hi_time >= start else timedelta(0)
        span = min(span_before, span_after, DEFAULT_MAX_PERIOD)
        span = unit * max(1, math.ceil(span / unit - 1e-9))  # whole units
        before = before if before is not None else span
        after = after if after is not None else span
    period_start, period_end = start - before, start + after
    excluded = [_spec(o) for o in others if _spec(o).name != spec.name and _spec(o).started_at < period_end]
    unit_s = unit.total_seconds()
    n_before = max(1, math.ceil(before.total_seconds() / unit_s - 1e-9))
    n_after = max(1, math.ceil(after.total_seconds() / unit_s - 1e-9))
    # per unit: (T_num, T_den, C_num, C_den) and squares for the score variance
    arr_b = np.zeros((n_before, 4))
    arr_a = np.zeros((n_after, 4))
    sq = np.zeros(4)  # sum of squares per cell: Tb, Ta, Cb, Ca
    control_teams: set[str] = set()
    for moment, row in data:
        if moment < period_start or moment >= period_end:
            continue
        team, agent = value_of(row, "team"), value_of(row, "agent_id")
        if team is None and agent is None:
            continue
        treated = _covers(spec, team, agent)
        if not treated and any(_covers(o, team, agent) for o in excluded):
            continue
        value = _metric_value(row, metric, theme_id, ces_high_means)
        if value is None:
            continue
        offset = (moment - start).total_seconds() / unit_s
        after_side = offset >= 0
        index = math.floor(offset) if after_side else n_before + math.floor(offset)
        target = arr_a if after_side else arr_b
        if not 0 <= index < len(target):
            continue
        col = 0 if treated else 2
        target[index, col] += value
        target[index, col + 1] += 1
        sq[(0 if treated else 2) + (1 if after_side else 0)] += value * value
        if not treated and team is not None:
            control_teams.add(str(team))
    tb, ta = arr_b[:, :2].sum(axis=0), arr_a[:, :2].sum(axis=0)
    cb, ca = arr_b[:, 2:].sum(axis=0), arr_a[:, 2:].sum(axis=0)
    sums = np.array([tb[0], tb[1], ta[0], ta[1], cb[0], cb[1], ca[0], ca[1]])
    kind: Literal["ratio", "difference"] = "difference" if metric == "score" else "ratio"
    if kind == "ratio":
        enough = bool(min(tb[0], ta[0], cb[0], ca[0]) >= min_events)
    else:
        enough = bool(min(tb[1], ta[1], cb[1], ca[1]) >= max(min_events, 2))
    estimate = lo = hi = None
    method = "none"
    if enough:
        estimate = float(_did(sums, kind))
        interval = None
        used_b, used_a = arr_b[arr_b[:, 1] + arr_b[:, 3] > 0], arr_a[arr_a[:, 1] + arr_a[:, 3] > 0]
        if len(used_b) >= MIN_UNITS and len(used_a) >= MIN_UNITS:
            interval = _bootstrap(used_b, used_a, kind, confidence, n_boot, seed)
            method = f"paired bootstrap SE, t interval, {len(used_b)}+{len(used_a)} units of {unit_s / 3600:g} h"
        if interval is None:
            cells = [(arr_b, 0, 1), (arr_a, 0, 1), (arr_b, 2, 3), (arr_a, 2, 3)]
            variances = None
            if kind == "difference":
                variances = []
                for i, s2 in enumerate((sq[0], sq[1], sq[2], sq[3])):
                    n, total = sums[2 * i + 1], sums[2 * i]
                    mean = total / n
                    var = (s2 - n * mean * mean) / max(n - 1, 1)
                    variances.append(max(var, 0.0) / n)
            interval = _model_interval(cells, sums, kind, confidence, variances)
            method = "quasi-binomial model (delta method)" if kind == "ratio" else "normal model (Welch-type)"
        if interval is not None:
            lo, hi = interval
        else:
            estimate = None
    detectable = lo is not None and hi is not None and not (lo <= 0.0 <= hi)
    verdict = verdict_text(estimate, lo, hi, kind, confidence)
    what = {"empathy": "Empathy complaints", "theme": f"'{label or theme_id}' complaints", "score": "The score"}[metric]
    who = ", ".join([*(f"team {t}" for t in spec.teams), *(f"agent {a}" for a in spec.agents)])
    days = after.total_seconds() / 86400
    control = f"{len(control_teams)} team{'s' if len(control_teams) != 1 else ''} without it"
    if not enough:
        counts = f"{int(min(tb[0], ta[0], cb[0], ca[0]))}" if kind == "ratio" else f"{int(min(tb[1], ta[1]))}"
        sentence = (
            f"{what} for {who}: not enough data to tell whether '{spec.name}' changed anything "
            f"(fewest {'events' if kind == 'ratio' else 'scored responses'} in a before/after cell: {counts}; "
            f"need {min_events})."
        )
    else:
        joint = ": " if not detectable else " "
        sentence = (
            f"{what} for {who}{joint}{verdict} after '{spec.name}' on {start:%Y-%m-%d}, compared with {control} "
            f"over the same {days:g} days before and after."
        )
    effect = InterventionEffect(
        intervention=spec.name,
        metric=metric,
        theme_id=theme_id if metric == "theme" else None,
        started_at=start,
        period_start=period_start,
        period_end=period_end,
        unit_seconds=unit_s,
        kind=kind,
        treated_before=CellTotals(float(tb[0]), float(tb[1])),
        treated_after=CellTotals(float(ta[0]), float(ta[1])),
        control_before=CellTotals(float(cb[0]), float(cb[1])),
        control_after=CellTotals(float(ca[0]), float(ca[1])),
        control_teams=sorted(control_teams),
        estimate=estimate,
        ci_low=lo,
        ci_high=hi,
        confidence=confidence,
        method=method,
        enough_data=enough,
        detectable=detectable,
        verdict=verdict,
        sentence=sentence,
    )
    effect.series = _series(arr_b, arr_a, start, unit)
    effect.pretrend = _pretrend(arr_b, kind, confidence, n_boot, seed) if enough else None
    return effect


def _series(arr_b: np.ndarray, arr_a: np.ndarray, start: datetime, unit: timedelta) -> dict[str, list]:
    units = np.vstack([arr_b, arr_a])
    starts = [start + unit * (i - len(arr_b)) for i in range(len(units))]
    with np.errstate(divide="ignore", invalid="ignore"):
        treated = np.where(units[:, 1] > 0, units[:, 0] / units[:, 1], np.nan)
        control = np.where(units[:, 3] > 0, units[:, 2] / units[:, 3], np.nan)
    clean = [None if not np.isfinite(v) else float(v) for v in treated]
    clean_c = [None if not np.isfinite(v) else float(v) for v in control]
    return {
        "unit_start": starts,
        "treated": clean,
        "control": clean_c,
        "treated_n": [int(x) for x in units[:, 1]],
        "control_n": [int(x) for x in units[:, 3]],
    }


def _pretrend(arr_b: np.ndarray, kind: str, confidence: float, n_boot: int, seed: int) -> dict[str, Any] | None:
    """A placebo start in the middle of the before period: parallel trends predict no change there."""
    used = arr_b[arr_b[:, 1] + arr_b[:, 3] > 0]
    half = len(used) // 2
    if half < MIN_UNITS:
        return None
    first, second = used[:half], used[half : 2 * half]
    t1, t2, c1, c2 = first[:, :2].sum(0), second[:, :2].sum(0), first[:, 2:].sum(0), second[:, 2:].sum(0)
    sums = np.array([t1[0], t1[1], t2[0], t2[1], c1[0], c1[1], c2[0], c2[1]])
    if kind == "ratio" and min(sums[0::2]) <= 0:
        return None
    estimate = float(_did(sums, kind))
    interval = _bootstrap(first, second, kind, confidence, n_boot, seed + 1)
    if interval is None or not math.isfinite(estimate):
        return None
    lo, hi = interval
    parallel = lo <= 0.0 <= hi
    return {
        "estimate": estimate,
        "ci_low": lo,
        "ci_high": hi,
        "parallel": parallel,
        "note": "treated and control moved alike before the start" if parallel else
        "treated and control already diverged before the start: read the estimate with caution",
    }


def analyze_all(
    rows: Sequence[Any],
    intervention: Any,
    themes: Sequence[str] = (),
    labels: dict[str, str] | None = None,
    **kwargs: Any,
) -> list[InterventionEffect]:
    """The empathy-complaint rate, the score and each of ``themes``' rates for one intervention."""
    labels = labels or {}
    out = [analyze_intervention(rows, intervention, "empathy", **kwargs)]
    for theme in themes:
        out.append(analyze_intervention(rows, intervention, "theme", theme_id=theme, label=labels.get(theme), **kwargs))
    out.append(analyze_intervention(rows, intervention, "score", **kwargs))
    return out
