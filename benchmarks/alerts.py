"""Alert quality on simulated streams: detection delay and rate per rise, false alarms when nothing changes.

Feeds the simulator's ground-truth themes straight to TrendMonitor (no embedding), so hundreds of trials run in
minutes. A trial plays ``--warmup`` quiet windows then ``--rise`` windows in which one theme's rate in one slice
is multiplied (or nothing changes, for the stationary streams).

- delay: windows of the rise that had closed when the first alert for that slice and theme came
  (1 = at the close of the first rise window; the alert itself leaves ``grace`` later in event time);
- detected within 2: share of trials with delay <= 2;
- false alarms: alerts on stationary streams per 1,000 slice-windows tested, where a slice is one theme in
  one dimension value (or the whole stream) and "tested" means a significance test was computed; also given
  per 1,000 dimension-value windows (all themes of e.g. agent a-03 in one window counted once).

The simulator's themes are grouped into coarse themes (``COARSE``, this benchmark's own grouping, as a discovery
round would group them), which the monitor tests as the sums of their members. The stationary streams run twice,
with and without that level, so the false alarms it adds are measured in the same run; "coarse x1.5" raises
every member of one group by half at once (detected: an alert on the group or on any member).

Run: .venv/bin/python benchmarks/alerts.py            (--trials 200 by default; --help for the knobs)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.simulator import FeedbackSimulator, Injection  # noqa: E402
from insights.trends import EMPATHY_THEME_ID, Observation, TrendMonitor  # noqa: E402

START = datetime(2024, 5, 1, tzinfo=UTC)
COARSE_GROUPS = {
    "c-manner": ("rude", "dismissive"),
    "c-handling": ("robotic", "rushed", "didnt_listen", "no_follow_up"),
    "c-money": ("billing_error", "refund"),
    "c-logistics": ("delivery_late", "wait_time"),
    "c-digital": ("app_crash", "password_reset"),
    "c-praise": ("praise",),
    "c-other": ("other",),
}
COARSE = {theme: group for group, members in COARSE_GROUPS.items() for theme in members}


@dataclass(frozen=True)
class Scenario:
    name: str
    multiplier: float | None  # None: stationary
    dimensions: dict[str, str] = field(default_factory=dict)
    theme: str = "rude"  # the alert that detects it: a simulator theme, or a group of COARSE_GROUPS
    coarse: bool = True  # whether items carry their coarse theme

    @property
    def raised(self) -> tuple[str, ...]:
        """The simulator themes whose rate rises."""
        return COARSE_GROUPS.get(self.theme, (self.theme,))

    @property
    def explained(self) -> set[str]:
        """Alerts the rise itself explains: its themes, their groups, the empathy aggregate."""
        return {self.theme, *self.raised, *(COARSE[t] for t in self.raised), EMPATHY_THEME_ID}


@dataclass
class TrialResult:
    delay: int | None
    baseline: float
    alerts: int
    other_alerts: int
    tested: int
    slice_windows: int


def run_trial(scenario: Scenario, seed: int, args: argparse.Namespace) -> TrialResult:
    window = timedelta(hours=1)
    rise_start = START + args.warmup * window
    end = rise_start + args.rise * window
    injections = []
    if scenario.multiplier is not None:
        injections += [Injection(t, scenario.multiplier, rise_start, end, scenario.dimensions) for t in scenario.raised]
    sim = FeedbackSimulator(
        seed=seed,
        agents=args.agents,
        teams=args.teams,
        start=START,
        items_per_window=args.items_per_window,
        window="1h",
        injections=injections,
        theme_weights={"rude": args.rude_weight},
    )
    monitor = TrendMonitor(
        window="1h",
        grace=args.grace,
        min_volume=args.min_volume,
        cooldown_windows=3,
        p_value=args.p_value,
        count_rows=False,
    )
    alerts = []
    baseline_counts = [0] * args.warmup
    for item in sim.until(end):
        obs = Observation(
            feedback_id=item.feedback_id,
            event_time=item.event_time,
            theme_id=item.truth,
            theme_label=item.theme_label,
            empathy_category=item.empathy_category,
            dimensions=item.dimensions,
            text=item.text,
            theme_empathy_category=item.empathy_category,  # the simulator's item category is its theme's
            coarse_theme_id=COARSE[item.truth] if scenario.coarse else None,
            coarse_theme_label=COARSE[item.truth] if scenario.coarse else None,
        )
        alerts.extend(monitor.observe(obs))
        if (
            item.event_time < rise_start
            and item.truth in scenario.raised
            and all(item.dimensions.get(k) == v for k, v in scenario.dimensions.items())
        ):
            baseline_counts[int((item.event_time - START) / window)] += 1
    alerts.extend(monitor.advance(end + timedelta(hours=1) + monitor.clock.grace))
    delay = None
    other = 0
    for alert in alerts:
        alert_end = datetime.fromisoformat(alert.window_end.replace("Z", "+00:00"))
        is_target = (
            scenario.multiplier is not None
            and alert.theme_id in (scenario.theme, *scenario.raised)
            and alert.dimensions == scenario.dimensions
            and alert_end > rise_start
        )
        if is_target:
            d = round((alert_end - rise_start) / window)
            delay = d if delay is None else min(delay, d)
        elif alert_end <= rise_start or alert.theme_id not in scenario.explained:
            other += 1  # before the rise, or a theme the rise cannot explain
    return TrialResult(
        delay=delay,
        baseline=statistics.fmean(baseline_counts[args.warmup // 2 :]),
        alerts=len(alerts),
        other_alerts=other,
        tested=monitor.stats["tested"],
        slice_windows=monitor.stats["slice_windows"],
    )


def _run(job: tuple[Scenario, int, argparse.Namespace]) -> tuple[str, TrialResult]:
    scenario, seed, args = job
    return scenario.name, run_trial(scenario, seed, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="trials per scenario")
    parser.add_argument("--agent-trials", type=int, default=50, help="trials per agent-slice scenario (0: skip)")
    parser.add_argument("--warmup", type=int, default=16, help="quiet windows before the rise")
    parser.add_argument("--rise", type=int, default=4, help="windows the rise lasts")
    parser.add_argument("--items-per-window", type=float, default=700.0)
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--teams", type=int, default=2)
    parser.add_argument("--rude-weight", type=float, default=0.15, help="simulator weight of 'rude'")
    parser.add_argument("--p-value", type=float, default=0.001)
    parser.add_argument("--min-volume", type=int, default=20)
    parser.add_argument("--grace", default="5m")
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args(argv)

    team = {"team": "care-east"}
    scenarios = [Scenario("stationary", None), Scenario("stationary, no coarse level", None, coarse=False)]
    scenarios += [Scenario(f"team x{m}", m, team) for m in (1.5, 2.0, 3.0)]
    scenarios += [Scenario("coarse x1.5", 1.5, team, theme="c-money"),
                  Scenario("coarse x1.5, no coarse level", 1.5, team, theme="c-money", coarse=False)]
    agent_scenarios = [Scenario(f"agent x{m}", m, {"agent_id": "a-03"}) for m in (2.0, 3.0)]
    jobs = [(s, args.seed + i, args) for s in scenarios for i in range(args.trials)]
    jobs += [(s, args.seed + i, args) for s in agent_scenarios for i in range(args.agent_trials)]
    began = time.perf_counter()
    results: dict[str, list[TrialResult]] = {}
    with ProcessPoolExecutor(max_workers=args.processes) as pool:
        for done, (name, result) in enumerate(pool.map(_run, jobs, chunksize=4), start=1):
            results.setdefault(name, []).append(result)
            if done % max(1, len(jobs) // 10) == 0:
                print(f"  {done}/{len(jobs)} trials, {time.perf_counter() - began:.0f}s", file=sys.stderr)
    elapsed = time.perf_counter() - began

    print(
        f"alerts benchmark: {args.trials} trials/scenario, {args.warmup} quiet + {args.rise} rise windows of 1h, "
        f"{args.items_per_window:g} items/window, p_value={args.p_value}, min_volume={args.min_volume}, "
        f"grace={args.grace}, {elapsed:.0f}s"
    )
    print(f"{'scenario':<30} {'slice':<18} {'baseline/win':>12} {'within 2':>9} {'ever':>6} {'mean delay':>10}")
    for scenario in scenarios + agent_scenarios:
        rows = results.get(scenario.name)
        if not rows or scenario.multiplier is None:
            continue
        delays = [r.delay for r in rows if r.delay is not None]
        within = sum(1 for d in delays if d <= 2) / len(rows)
        mean_delay = f"{statistics.fmean(delays):.2f}" if delays else "-"
        where = ",".join(f"{k}={v}" for k, v in scenario.dimensions.items())
        print(
            f"{scenario.name:<30} {where:<18} {statistics.fmean(r.baseline for r in rows):>12.1f} "
            f"{within:>9.1%} {len(delays) / len(rows):>6.1%} {mean_delay:>10}"
        )
    for name in ("stationary", "stationary, no coarse level"):
        quiet = results[name]
        alerts, tested = sum(r.alerts for r in quiet), sum(r.tested for r in quiet)
        slice_windows = sum(r.slice_windows for r in quiet)
        print(
            f"{name}: {alerts} alerts in {tested} slice-windows tested = "
            f"{1000 * alerts / max(tested, 1):.3f} per 1,000 slice-windows "
            f"({1000 * alerts / max(slice_windows, 1):.2f} per 1,000 dimension-value windows, all themes together)"
        )
    rise_rows = [r for s in scenarios if s.multiplier is not None for r in results.get(s.name, [])]
    other, rise_tested = sum(r.other_alerts for r in rise_rows), sum(r.tested for r in rise_rows)
    print(
        f"rise streams: {other} alerts before the rise or on unrelated themes in {rise_tested} slice-windows "
        f"tested = {1000 * other / max(rise_tested, 1):.3f} per 1,000"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
