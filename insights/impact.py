"""What each theme costs in CSAT / NPS / CES: the score of feedback with a theme against the score without it.

Scores of different surveys are put on one 0-100 scale where higher is better (CSAT and ratings 1-5, NPS 0-10,
CES 1-7), so a theme's effect can be compared and pooled across survey types. For every theme:

- ``effect``: mean normalised score of responses with the theme minus the mean of the other responses, with a
  Welch (unequal-variance t) confidence interval and p-value;
- detractor shares with and without the theme (NPS 0-6, CSAT 1-2, ratings 1-2, CES 5-7 when a high CES means
  high effort, the default, or CES 1-3 when it means ease: set ``ces_high_means="ease"``);
- ``points_lost``: how much higher the overall mean would be if the theme's responses scored like the rest
  (share x gap), the "which theme drags our score down most" number, and the default ranking;
- a plain-language sentence.

The same analysis runs per event-time window and per team / journey stage / any row field (``by``). It works on
any iterable of rows, dicts or objects (e.g. :class:`~insights.store.models.FeedbackRecord`), so it runs on the
store (:func:`load_scored_rows`) and in tests. The difference is associational, not causal: a theme that co-occurs
with another problem carries some of that problem's cost.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

CesHighMeans = Literal["effort", "ease"]
RankBy = Literal["points_lost", "effect"]

# score type -> (lowest, highest) of its scale
SCALES: dict[str, tuple[float, float]] = {"csat": (1, 5), "rating": (1, 5), "nps": (0, 10), "ces": (1, 7)}
SCORE_TYPE_NAMES = {"csat": "CSAT", "rating": "rating", "nps": "NPS", "ces": "CES"}
DEFAULT_CES_HIGH_MEANS: CesHighMeans = "effort"
UNASSIGNED = "__unassigned__"


def value_of(row: Any, name: str, default: Any = None) -> Any:
    """A field of a dict row or an attribute of a record row."""
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def normalise_score(
    score: float | None, score_type: str | None, ces_high_means: CesHighMeans = "effort"
) -> float | None:
    """The score on a 0-100 scale where higher is better; None for a missing score or an unknown type."""
    if score is None or score_type is None:
        return None
    kind = str(score_type).lower()
    scale = SCALES.get(kind)
    if scale is None:
        return None
    low, high = scale
    try:
        value = float(score)
    except (TypeError, ValueError):
        return None
    if math.isnan(value):
        return None
    value = min(max(value, low), high)
    share = (value - low) / (high - low)
    if kind == "ces" and ces_high_means == "effort":
        share = 1.0 - share
    return 100.0 * share


def is_detractor(score: float | None, score_type: str | None, ces_high_means: CesHighMeans = "effort") -> bool | None:
    """NPS 0-6, CSAT and ratings 1-2, CES 5-7 (high effort) or 1-3 (when high means ease)."""
    if score is None or score_type is None:
        return None
    kind = str(score_type).lower()
    value = float(score)
    if kind == "nps":
        return value <= 6
    if kind in ("csat", "rating"):
        return value <= 2
    if kind == "ces":
        return value >= 5 if ces_high_means == "effort" else value <= 3
    return None


@dataclass
class ScoredRow:
    """The fields of a row the analysis needs, with its normalised score."""

    theme_id: str
    value: float
    detractor: bool
    score: float
    score_type: str
    event_time: datetime | None
    row: Any = field(repr=False, default=None)


def scored_rows(rows: Iterable[Any], ces_high_means: CesHighMeans = DEFAULT_CES_HIGH_MEANS) -> list[ScoredRow]:
    """The rows that carry a usable score (others are skipped)."""
    out = []
    for row in rows:
        score, kind = value_of(row, "score"), value_of(row, "score_type")
        value = normalise_score(score, kind, ces_high_means)
        if value is None:
            continue
        moment = value_of(row, "event_time")
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        out.append(
            ScoredRow(
                theme_id=value_of(row, "theme_id") or UNASSIGNED,
                value=value,
                detractor=bool(is_detractor(score, kind, ces_high_means)),
                score=float(score),
                score_type=str(kind).lower(),
                event_time=utc(moment) if isinstance(moment, datetime) else None,
                row=row,
            )
        )
    return out


@dataclass
class ThemeImpact:
    theme_id: str
    label: str
    n_with: int
    n_without: int
    share: float
    mean_with: float
    mean_without: float
    effect: float  # mean_with - mean_without, points on the 0-100 scale (negative: the theme drags the score)
    ci_low: float
    ci_high: float
    p_value: float
    detractors_with: float
    detractors_without: float
    points_lost: float  # share * (mean_without - mean_with): what the overall mean loses to this theme
    points_lost_ci: tuple[float, float]
    by_score_type: dict[str, dict[str, float | int | None]]
    significant: bool
    sentence: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["points_lost_ci"] = list(self.points_lost_ci)
        return d


@dataclass
class ImpactGroup:
    """The theme impacts of one slice (a window and/or a dimension value; None: everything)."""

    dimension: str | None
    value: str | None
    window_start: datetime | None
    window_end: datetime | None
    n: int
    mean: float | None
    detractor_share: float | None
    themes: list[ThemeImpact]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "value": self.value,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "n": self.n,
            "mean": self.mean,
            "detractor_share": self.detractor_share,
            "themes": [t.as_dict() for t in self.themes],
        }


def _mean_var(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    var = float(arr.var(ddof=1)) if len(arr) > 1 else 0.0
    return mean, var


def welch_interval(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """mean(a) - mean(b), its Welch confidence interval and two-sided p-value."""
    ma, va = _mean_var(a)
    mb, vb = _mean_var(b)
    return _welch(ma, va, len(a), mb, vb, len(b), confidence)


def _welch(
    ma: float, va: float, na: int, mb: float, vb: float, nb: int, confidence: float
) -> tuple[float, float, float, float]:
    diff = ma - mb
    se2 = va / na + vb / nb
    if se2 <= 0:
        return diff, diff, diff, 0.0 if diff else 1.0
    se = math.sqrt(se2)
    denom = (va / na) ** 2 / max(na - 1, 1) + (vb / nb) ** 2 / max(nb - 1, 1)
    df = se2**2 / denom if denom > 0 else float(na + nb - 2)
    t = sps.t.ppf(0.5 + confidence / 2, df)
    p = 2 * sps.t.sf(abs(diff) / se, df)
    return diff, diff - t * se, diff + t * se, float(p)


def _fmt_points(x: float) -> str:
    return f"{abs(x):.1f}"


def impact_sentence(t: ThemeImpact, confidence: float = 0.95, where: str = "") -> str:
    """E.g. "'rude agent' (6.1% of 3,210 scored responses) scores 38.2 points lower ... (95% CI 35.0 to 41.4)"."""
    pct = round(confidence * 100)
    head = f"'{t.label}' ({t.share:.1%} of {t.n_with + t.n_without:,} scored responses{where})"
    lo, hi = sorted((abs(t.ci_low), abs(t.ci_high)))
    if not t.significant:
        return (
            f"{head}: no detectable difference in score ({t.effect:+.1f} points on a 0-100 scale, "
            f"{pct}% CI {t.ci_low:+.1f} to {t.ci_high:+.1f}); detractors {t.detractors_with:.0%} vs "
            f"{t.detractors_without:.0%} otherwise."
        )
    direction = "lower" if t.effect < 0 else "higher"
    sentence = (
        f"{head} scores {_fmt_points(t.effect)} points {direction} on a 0-100 scale than the rest "
        f"({pct}% CI {lo:.1f} to {hi:.1f}); {t.detractors_with:.0%} of it comes from detractors vs "
        f"{t.detractors_without:.0%} otherwise."
    )
    if t.effect < 0:
        sentence += f" Without it the average would be {t.points_lost:.1f} points higher."
    return sentence


def _by_type(mask: np.ndarray, scores: np.ndarray, kinds: np.ndarray) -> dict[str, dict[str, float | int | None]]:
    out: dict[str, dict[str, float | int | None]] = {}
    for kind in sorted(set(kinds[mask].tolist())):
        of_kind = kinds == kind
        w, o = scores[mask & of_kind], scores[~mask & of_kind]
        out[kind] = {
            "n_with": int(len(w)),
            "n_without": int(len(o)),
            "mean_with": float(w.mean()) if len(w) else None,
            "mean_without": float(o.mean()) if len(o) else None,
        }
        if kind == "nps":  # the NPS itself: % promoters (9-10) - % detractors (0-6)
            for name, xs in (("nps_with", w), ("nps_without", o)):
                nps = float(100.0 * ((xs >= 9).sum() - (xs <= 6).sum()) / len(xs)) if len(xs) else None
                out[kind][name] = nps
    return out


def theme_impacts(
    rows: Iterable[Any] | Sequence[ScoredRow],
    labels: Mapping[str, str] | None = None,
    min_count: int = 10,
    confidence: float = 0.95,
    rank_by: RankBy = "points_lost",
    ces_high_means: CesHighMeans = DEFAULT_CES_HIGH_MEANS,
    include_unassigned: bool = False,
    where: str = "",
) -> list[ThemeImpact]:
    """Each theme's effect on the score, ranked (most damaging first); themes under ``min_count`` are left out."""
    data = list(rows)
    scored = data if data and isinstance(data[0], ScoredRow) else scored_rows(data, ces_high_means)
    n = len(scored)
    if n < 2:
        return []
    themes = np.array([r.theme_id for r in scored], dtype=object)
    values = np.array([r.value for r in scored], dtype=float)
    detractor = np.array([r.detractor for r in scored], dtype=bool)
    scores = np.array([r.score for r in scored], dtype=float)
    kinds = np.array([r.score_type for r in scored], dtype=object)
    total, total_sq, total_detr = values.sum(), (values**2).sum(), detractor.sum()
    labels = labels or {}
    out = []
    for theme_id in sorted(set(themes.tolist())):
        if theme_id == UNASSIGNED and not include_unassigned:
            continue
        mask = themes == theme_id
        na = int(mask.sum())
        nb = n - na
        if na < max(min_count, 2) or nb < max(min_count, 2):
            continue
        a = values[mask]
        sa, sqa = a.sum(), (a**2).sum()
        ma, mb = sa / na, (total - sa) / nb
        va = max((sqa - na * ma * ma) / (na - 1), 0.0)
        vb = max(((total_sq - sqa) - nb * mb * mb) / (nb - 1), 0.0)
        diff, lo, hi, p = _welch(ma, va, na, mb, vb, nb, confidence)
        share = na / n
        detr_a = int(detractor[mask].sum())
        impact = ThemeImpact(
            theme_id=theme_id,
            label=labels.get(theme_id) or theme_id,
            n_with=na,
            n_without=nb,
            share=share,
            mean_with=float(ma),
            mean_without=float(mb),
            effect=float(diff),
            ci_low=float(lo),
            ci_high=float(hi),
            p_value=p,
            detractors_with=detr_a / na,
            detractors_without=float(total_detr - detr_a) / nb,
            points_lost=float(-share * diff),
            points_lost_ci=(float(-share * hi), float(-share * lo)),
            by_score_type=_by_type(mask, scores, kinds),
            significant=not (lo <= 0.0 <= hi),
        )
        impact.sentence = impact_sentence(impact, confidence, where)
        out.append(impact)
    if rank_by == "effect":
        out.sort(key=lambda t: (t.effect, t.theme_id))
    else:
        out.sort(key=lambda t: (-t.points_lost, t.theme_id))
    return out


def _window_start(moment: datetime, seconds: float) -> datetime:
    epoch = moment.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def score_impact(
    rows: Iterable[Any],
    by: str | None = None,
    window: str | timedelta | None = None,
    labels: Mapping[str, str] | None = None,
    min_count: int = 10,
    confidence: float = 0.95,
    rank_by: RankBy = "points_lost",
    ces_high_means: CesHighMeans = DEFAULT_CES_HIGH_MEANS,
) -> list[ImpactGroup]:
    """Theme impacts per slice: per ``window`` (e.g. "7d") and/or per value of ``by`` (team, journey_stage...).

    Without ``by`` and ``window`` there is one group over all rows. Groups come in window order, then by value.
    """
    from insights.trends.duration import parse_duration

    scored = scored_rows(rows, ces_high_means)
    seconds = parse_duration(window).total_seconds() if window else None
    groups: dict[tuple[datetime | None, str | None], list[ScoredRow]] = defaultdict(list)
    for r in scored:
        start = _window_start(r.event_time, seconds) if seconds and r.event_time else None
        if seconds and start is None:
            continue
        value = None
        if by:
            raw = value_of(r.row, by)
            if raw is None:
                continue
            value = str(raw)
        groups[(start, value)].append(r)
    out = []
    for (start, value), members in sorted(groups.items(), key=lambda kv: (kv[0][0] or datetime.min.replace(tzinfo=UTC),
                                                                         kv[0][1] or "")):
        parts = []
        if by:
            parts.append(f"{by} {value}")
        if start is not None:
            parts.append(f"window from {start:%Y-%m-%d %H:%M}")
        where = ", " + ", ".join(parts) if parts else ""
        themes = theme_impacts(members, labels, min_count, confidence, rank_by, ces_high_means, where=where)
        out.append(
            ImpactGroup(
                dimension=by,
                value=value,
                window_start=start,
                window_end=start + timedelta(seconds=seconds) if start is not None and seconds else None,
                n=len(members),
                mean=sum(m.value for m in members) / len(members) if members else None,
                detractor_share=sum(m.detractor for m in members) / len(members) if members else None,
                themes=themes,
            )
        )
    return out


# -- the store --------------------------------------------------------------------------------------------------
ANALYSIS_COLUMNS = (
    "feedback_id", "event_time", "score", "score_type", "theme_id", "empathy_category", "agent_id", "team",
    "journey_stage", "channel", "kind",
)  # fmt: skip


def load_rows(
    engine: Any,
    since: datetime | None = None,
    until: datetime | None = None,
    scored_only: bool = False,
    columns: Sequence[str] = ANALYSIS_COLUMNS,
) -> list[dict[str, Any]]:
    """Feedback rows of the store in ``[since, until)`` as dicts of ``columns`` (event times in UTC)."""
    from sqlalchemy import select

    from insights.store.models import FeedbackRecord

    table = FeedbackRecord.__table__
    stmt = select(*[table.c[c] for c in columns])
    if since is not None:
        stmt = stmt.where(table.c.event_time >= utc(since))
    if until is not None:
        stmt = stmt.where(table.c.event_time < utc(until))
    if scored_only:
        stmt = stmt.where(table.c.score.is_not(None))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for r in rows:
        if isinstance(r.get("event_time"), datetime):
            r["event_time"] = utc(r["event_time"])
    return rows


def load_scored_rows(engine: Any, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """The store's feedback with a score in ``[since, until)``."""
    return load_rows(engine, since, until, scored_only=True)


def theme_labels(engine: Any) -> dict[str, str]:
    """theme_id -> label of every theme in the store (retired and merged ones too)."""
    from sqlalchemy import select

    from insights.store.models import ThemeRecord

    table = ThemeRecord.__table__
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(select(table.c.theme_id, table.c.label))}


def feedback_range(engine: Any) -> tuple[datetime | None, datetime | None]:
    """Event times of the oldest and newest feedback in the store (None, None when empty)."""
    from sqlalchemy import func, select

    from insights.store.models import FeedbackRecord

    table = FeedbackRecord.__table__
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(table.c.event_time), func.max(table.c.event_time))).one()
    return (utc(first) if first else None), (utc(last) if last else None)
