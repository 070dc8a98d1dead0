"""PNG charts for the report: what each theme costs in score, and an intervention's before/after.

Both functions write a PNG (to a path, or return its bytes when ``path`` is None) with matplotlib's Agg backend,
so they run headless (CI, a container, a cron job).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from insights.impact import ThemeImpact
from insights.interventions import InterventionEffect


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110)


def _save(fig, path: str | Path | None) -> bytes | Path:
    if path is None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    return path


def plot_theme_impact(
    impacts: Sequence[ThemeImpact], path: str | Path | None = None, top: int = 12, title: str | None = None
) -> bytes | Path:
    """Horizontal bars: points of the average score each theme costs (share x gap), with its interval.

    The label of each bar carries the per-response gap and the detractor shares.
    """
    items = list(impacts)[:top]
    fig = _figure(8.5, 0.45 * max(len(items), 3) + 1.4)
    ax = fig.add_subplot(1, 1, 1)
    if not items:
        ax.text(0.5, 0.5, "no theme with enough scored feedback", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, path)
    items = items[::-1]  # the most damaging on top
    y = list(range(len(items)))
    values = [t.points_lost for t in items]
    errors = [
        [t.points_lost - t.points_lost_ci[0] for t in items],
        [t.points_lost_ci[1] - t.points_lost for t in items],
    ]
    colors = ["#c0392b" if t.significant and t.effect < 0 else "#27ae60" if t.significant else "#95a5a6"
              for t in items]
    ax.barh(y, values, xerr=errors, color=colors, capsize=3, height=0.6)
    ax.set_yticks(y)
    ax.set_yticklabels(
        [f"{t.label}  ({t.effect:+.0f} pts, detr. {t.detractors_with:.0%} vs {t.detractors_without:.0%})"
         for t in items], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("points of the average score (0-100) lost to the theme, with 95% CI")
    ax.set_title(title or "What each theme costs in score", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_intervention(effect: InterventionEffect, path: str | Path | None = None) -> bytes | Path:
    """Per-unit rate (or score) of the treated slice and the control teams, the start line and the verdict."""
    series = effect.series
    from datetime import timedelta

    half = timedelta(seconds=effect.unit_seconds / 2)
    starts = [s + half for s in series.get("unit_start", [])]  # each unit's midpoint
    fig = _figure(8.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    scale = 1.0 if effect.kind == "difference" else 100.0
    treated = [None if v is None else v * scale for v in series.get("treated", [])]
    control = [None if v is None else v * scale for v in series.get("control", [])]
    ax.plot(starts, [float("nan") if v is None else v for v in treated], marker="o", markersize=3, color="#c0392b",
            label="treated")
    ax.plot(starts, [float("nan") if v is None else v for v in control], marker="o", markersize=3, color="#2c3e50",
            label="control (teams without it)")
    ax.axvline(effect.started_at, color="#7f8c8d", linestyle="--", linewidth=1)
    for cells, side in (((effect.treated_before, effect.treated_after), "#c0392b"),
                        ((effect.control_before, effect.control_after), "#2c3e50")):
        for cell, (a, b) in zip(cells, ((effect.period_start, effect.started_at),
                                        (effect.started_at, effect.period_end)), strict=True):
            if cell.value is not None:
                ax.hlines(cell.value * scale, a, b, colors=side, linewidth=2, alpha=0.35)
    what = {"empathy": "empathy complaints", "theme": f"theme {effect.theme_id}", "score": "score (0-100)"}
    ax.set_ylabel("% of feedback" if effect.kind == "ratio" else "mean score (0-100)")
    ax.set_title(f"{effect.intervention}: {what[effect.metric]} {effect.verdict}", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _save(fig, path)
