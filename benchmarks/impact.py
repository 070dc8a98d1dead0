"""Score impact and intervention analysis on simulated data with a known truth.

Two simulated worlds, built from the simulator's output with its ground-truth theme as the assignment (no
embedding), shared with tests/test_impact.py and tests/test_interventions.py so printed and asserted figures agree:

- ``scored_feedback``: the simulator's feedback re-scored from a latent satisfaction whose mean depends on the true
  theme (the simulator's own ``_score`` puts every negative theme at the floor of the scale, so no theme can drag
  harder than another); one theme (``DRAG_THEME``) is injected to drag the score 30 points further.
- ``intervention_world``: 4 teams over 28 days; from day 14 on, the simulator's ``Intervention`` lowers every
  empathy theme of team ``TREATED`` by a multiplier solved from the simulator's own rates so that the
  difference-in-differences estimand is exactly a 40% drop; a company-wide rise of rude complaints starts 3 days
  after (which a naive before/after would mistake for part of the effect); team ``PLACEBO`` records an
  intervention on the same day that does nothing.

Run: .venv/bin/python benchmarks/impact.py                (one seed, the numbers of the closing note)
     .venv/bin/python benchmarks/impact.py --seeds 100    (coverage of the interval and placebo false positives)
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.impact import theme_impacts  # noqa: E402
from insights.interventions import InterventionSpec, analyze_intervention  # noqa: E402
from insights.simulator import THEMES, FeedbackSimulator, Injection, Intervention  # noqa: E402
from insights.store.sample import feedback_row_of  # noqa: E402

START = datetime(2024, 5, 1, tzinfo=UTC)
EMPATHY_THEMES = tuple(t.key for t in THEMES if t.empathy)
LABELS = {t.key: t.label for t in THEMES}

# -- score impact -------------------------------------------------------------------------------------------------
DRAG_THEME = "didnt_listen"
DRAG = 0.30  # the injected theme's latent satisfaction is 0.30 (30 points on 0-100) lower than its base
# mean latent satisfaction (0-1) per true theme: negative themes differ a little, so the ranking is not a tie
LATENT_MEAN = {
    "rude": 0.38, "robotic": 0.42, "didnt_listen": 0.41, "dismissive": 0.39, "no_follow_up": 0.40, "rushed": 0.42,
    "billing_error": 0.40, "delivery_late": 0.42, "app_crash": 0.41, "wait_time": 0.42, "praise": 0.85,
    "refund": 0.39, "password_reset": 0.43, "other": 0.62,
}  # fmt: skip
LATENT_SD = 0.18


def rescore(row: dict[str, Any], mean: float, rng: random.Random, ces_high_means: str = "effort") -> dict[str, Any]:
    """Give a row a score drawn from a latent satisfaction u ~ N(mean, LATENT_SD) clipped to [0, 1]."""
    u = min(1.0, max(0.0, rng.gauss(mean, LATENT_SD)))
    kind = row["score_type"]
    if kind in ("csat", "rating"):
        score = round(1 + 4 * u)
    elif kind == "nps":
        score = round(10 * u)
    else:  # ces 1-7
        score = round(7 - 6 * u) if ces_high_means == "effort" else round(1 + 6 * u)
    return {**row, "score": float(score)}


def scored_feedback(
    seed: int = 0, n: int = 20_000, drag_theme: str | None = DRAG_THEME, drag: float = DRAG, **sim_kwargs: Any
) -> list[dict[str, Any]]:
    """Simulated store rows whose scores depend on their true theme; ``drag_theme`` drags ``drag`` further."""
    sim = FeedbackSimulator(seed=seed, start=START, items_per_window=n / 14, window="1d", **sim_kwargs)
    rng = random.Random(seed + 10_000)
    rows = []
    for item in sim.generate(n):
        row = feedback_row_of(item)
        mean = LATENT_MEAN[item.truth] - (drag if item.truth == drag_theme else 0.0)
        rows.append(rescore(row, mean, rng))
    return rows


# -- interventions ------------------------------------------------------------------------------------------------
TEAMS = ("care-east", "care-west", "tech-support", "billing-desk")
TREATED, PLACEBO = "care-east", "care-west"
DROP = 0.40
DAYS = 14


@dataclass
class InterventionWorld:
    rows: list[dict[str, Any]]
    treated: InterventionSpec
    placebo: InterventionSpec
    multiplier: float  # what the simulator applied to each empathy theme of the treated team
    true_effect: float  # the DiD estimand of the treated team's empathy rate, from the simulator's rates (-0.40)
    true_placebo: float  # the same for the placebo team (about 0)
    naive_treated: float  # treated after / before - 1 from the simulator's rates (what a naive comparison sees)


def _simulator(seed: int, multiplier: float, per_day: float, shock: float, days: int) -> FeedbackSimulator:
    start = START + timedelta(days=days)
    injections = [Intervention(t, multiplier, start, {"team": TREATED}) for t in EMPATHY_THEMES]
    if shock != 1.0:  # a company-wide rise of rude complaints (a policy change) 3 days after the start
        injections.append(Injection("rude", shock, start + timedelta(days=3)))
    return FeedbackSimulator(
        seed=seed, agents=16, teams=list(TEAMS), start=START, items_per_window=per_day, window="1d",
        injections=injections,
    )  # fmt: skip


def expected_empathy_rate(sim: FeedbackSimulator, moment: datetime, teams: set[str]) -> float:
    """The expected empathy rate of the survey responses of ``teams`` at ``moment``, from the simulator's rates."""
    num = den = 0.0
    for agent, volume in zip(sim.agents, sim.agent_volume, strict=True):
        if sim.team_of.get(agent) not in teams:
            continue
        for stage in sim.journey_stages:
            for channel in sim.survey_channels:
                dims = {"agent_id": agent, "team": sim.team_of[agent], "journey_stage": stage, "channel": channel}
                rates = sim.theme_rates(moment, dims, "survey")
                num += volume * sum(rates[t] for t in EMPATHY_THEMES)
                den += volume
    return num / den


def true_did(sim: FeedbackSimulator, team: str, control: set[str], days: int) -> tuple[float, float]:
    """(DiD estimand, naive after/before) of ``team``'s empathy rate, averaged over the after period's days."""
    start = START + timedelta(days=days)
    before = [START + timedelta(days=d, hours=12) for d in range(days)]
    after = [start + timedelta(days=d, hours=12) for d in range(days)]

    def mean_rate(moments: list[datetime], teams: set[str]) -> float:
        return statistics.fmean(expected_empathy_rate(sim, m, teams) for m in moments)

    t_ratio = mean_rate(after, {team}) / mean_rate(before, {team})
    c_ratio = mean_rate(after, control) / mean_rate(before, control)
    return t_ratio / c_ratio - 1.0, t_ratio - 1.0


@functools.lru_cache(maxsize=32)
def solve_multiplier(seed: int, drop: float = DROP, shock: float = 2.0, days: int = DAYS) -> float:
    """The per-theme multiplier making the treated team's DiD estimand a ``drop`` (bisection on the rates)."""
    control = set(TEAMS) - {TREATED, PLACEBO}
    lo, hi = 0.05, 1.0
    for _ in range(25):
        mid = (lo + hi) / 2
        effect, _ = true_did(_simulator(seed, mid, 100, shock, days), TREATED, control, days)
        if effect < -drop:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def intervention_world(
    seed: int = 0, per_day: float = 1000, drop: float = DROP, shock: float = 2.0, days: int = DAYS
) -> InterventionWorld:
    """28 simulated days of 4 teams: a 40% empathy drop for TREATED from day 14, nothing for PLACEBO."""
    multiplier = solve_multiplier(seed, drop, shock, days) if drop else 1.0
    sim = _simulator(seed, multiplier, per_day, shock, days)
    start = START + timedelta(days=days)
    rows = [feedback_row_of(item) for item in sim.until(start + timedelta(days=days))]
    controls = set(TEAMS) - {TREATED, PLACEBO}
    true_effect, naive = true_did(sim, TREATED, controls, days)
    true_placebo, _ = true_did(sim, PLACEBO, controls, days)
    return InterventionWorld(
        rows=rows,
        treated=InterventionSpec("empathy-coaching", start, teams=(TREATED,)),
        placebo=InterventionSpec("placebo-memo", start, teams=(PLACEBO,)),
        multiplier=multiplier,
        true_effect=true_effect,
        true_placebo=true_placebo,
        naive_treated=naive,
    )


def naive_before_after(rows: list[dict[str, Any]], team: str, start: datetime, days: int = DAYS) -> float:
    """The treated team's empathy rate after / before - 1, without a control group (for comparison)."""
    lo, hi = start - timedelta(days=days), start + timedelta(days=days)

    def rate(a: datetime, b: datetime) -> float:
        sel = [r for r in rows if r["team"] == team and a <= r["event_time"] < b]
        return sum(1 for r in sel if r["empathy_category"]) / len(sel)

    return rate(start, hi) / rate(lo, start) - 1.0


# -- the report ---------------------------------------------------------------------------------------------------
def report_impact(seed: int) -> None:
    t0 = time.perf_counter()
    rows = scored_feedback(seed)
    ranking = theme_impacts(rows, LABELS)
    by_effect = theme_impacts(rows, LABELS, rank_by="effect")
    took = time.perf_counter() - t0
    print(f"score impact, seed {seed}: {len(rows):,} rows, injected drag on {DRAG_THEME!r} ({DRAG * 100:.0f} points)"
          f" [{took:.1f}s]")
    for i, t in enumerate(ranking[:5], 1):
        print(f"  {i}. {t.theme_id:<15} points lost {t.points_lost:5.2f} (CI {t.points_lost_ci[0]:.2f}.."
              f"{t.points_lost_ci[1]:.2f})  effect {t.effect:+6.1f} (CI {t.ci_low:+.1f}..{t.ci_high:+.1f})  "
              f"detractors {t.detractors_with:.0%} vs {t.detractors_without:.0%}")
    print(f"  first by points lost: {ranking[0].theme_id}; first by per-response effect: {by_effect[0].theme_id}")
    print(f"  {ranking[0].sentence}")


def report_intervention(seed: int) -> None:
    t0 = time.perf_counter()
    world = intervention_world(seed)
    others = [world.placebo]
    treated = analyze_intervention(world.rows, world.treated, "empathy", others=others)
    placebo = analyze_intervention(world.rows, world.placebo, "empathy", others=[world.treated])
    took = time.perf_counter() - t0
    naive = naive_before_after(world.rows, TREATED, world.treated.started_at)
    print(f"intervention, seed {seed}: {len(world.rows):,} rows, per-theme multiplier {world.multiplier:.3f}, "
          f"true DiD effect {world.true_effect * 100:+.1f}% [{took:.1f}s]")
    print(f"  treated: estimate {treated.estimate * 100:+.1f}% (95% CI {treated.ci_low * 100:+.1f}% to "
          f"{treated.ci_high * 100:+.1f}%) -> {treated.verdict}; {treated.method}")
    print(f"  naive before/after of the treated team (no control): {naive * 100:+.1f}% "
          f"(simulator truth {world.naive_treated * 100:+.1f}%)")
    print(f"  placebo (truth {world.true_placebo * 100:+.1f}%): {placebo.verdict}")
    print(f"  pre-trend check: {treated.pretrend and treated.pretrend['note']}")
    print(f"  {treated.sentence}")


def coverage(seeds: int) -> None:
    hits = placebo_fp = 0
    widths = []
    for seed in range(seeds):
        world = intervention_world(seed)
        t = analyze_intervention(world.rows, world.treated, "empathy", others=[world.placebo], seed=seed)
        p = analyze_intervention(world.rows, world.placebo, "empathy", others=[world.treated], seed=seed)
        hits += t.ci_low <= world.true_effect <= t.ci_high
        placebo_fp += p.detectable
        widths.append(t.ci_high - t.ci_low)
    print(f"over {seeds} seeds: the 95% interval covers the true effect in {hits}/{seeds}; "
          f"placebo called a change in {placebo_fp}/{seeds}; median interval width "
          f"{statistics.median(widths) * 100:.1f} percentage points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=0, help="also measure coverage over this many seeds")
    args = parser.parse_args()
    report_impact(args.seed)
    report_intervention(args.seed)
    if args.seeds:
        coverage(args.seeds)


if __name__ == "__main__":
    main()
