"""``insights report``: PNG charts and a short HTML report from the insight store, for people who want a file."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from insights.settings import Settings

_RELATIVE = re.compile(r"^(\d+)([hdw])$")
IMPACT_PNG = "impact.png"
IMPACT_MIN_COUNT = 20  # scored items a theme needs before its gap is worth a row (as the API's default)


def _parse_time(text: str, newest: datetime | None, option: str) -> datetime:
    """ISO 8601 (a date or a date and time; UTC unless it says otherwise) or a span back from the newest data
    (``7d``, ``12h``, ``2w``)."""
    m = _RELATIVE.match(text.strip())
    if m:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        span = timedelta(**{unit: int(m.group(1))})
        return (newest or datetime.now(UTC)) - span
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: use an ISO date/time (2026-03-01, 2026-03-01T12:00) or 7d/12h/2w",
                                 param_hint=option) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _times(points: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(p["start"].replace("Z", "+00:00")) for p in points]


def _plots(out: Path, data: dict[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    files = []

    def finish(fig, ax, name: str, title: str) -> None:
        ax.set_title(title, loc="left", fontsize=11)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append((name, title))

    fig, ax = plt.subplots(figsize=(10, 4))
    for s in data["trends"]:
        if s["points"]:
            ax.plot(_times(s["points"]), [p["share"] or 0 for p in s["points"]], label=s["label"], linewidth=1.6)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    if data["trends"]:
        ax.legend(fontsize=8, ncol=3, loc="upper left")
    finish(fig, ax, "trends.png", "Top themes: share of all feedback")

    fig, ax = plt.subplots(figsize=(10, 3.2))
    pts = data["empathy"]
    if pts:
        ax.fill_between(_times(pts), [p["share"] or 0 for p in pts], color="#d93025", alpha=0.2, step="post")
        ax.plot(_times(pts), [p["share"] or 0 for p in pts], color="#d93025", drawstyle="steps-post")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    finish(fig, ax, "empathy.png", "Empathy complaints: share of all feedback")

    heat = data["heatmap"]
    fig, ax = plt.subplots(figsize=(10, 0.45 * max(3, len(heat["themes"])) + 1.5))
    if heat["themes"] and heat["values"]:
        matrix = [[s or 0 for s in row] for row in heat["shares"]]
        image = ax.imshow(matrix, cmap="Reds", aspect="auto")
        ax.set_xticks(range(len(heat["values"])), heat["values"], rotation=20, ha="right", fontsize=8)
        ax.set_yticks(range(len(heat["themes"])), [t["label"] for t in heat["themes"]], fontsize=8)
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7)
        fig.colorbar(image, ax=ax, format=PercentFormatter(1.0))
    finish(fig, ax, "heatmap.png", "Theme x journey stage: share of each stage's feedback")

    agents = data["agents"]
    fig, ax = plt.subplots(figsize=(10, 0.35 * max(3, len(agents)) + 1.2))
    if agents:
        names = [a["value"] for a in agents][::-1]
        ax.barh(names, [a["empathy_share"] or 0 for a in agents][::-1], color="#d93025")
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    finish(fig, ax, "agents.png", "Empathy-complaint share per agent (agents with most feedback)")
    return files


def _html(data: dict[str, Any], images: list[tuple[str, str]]) -> str:
    e = html.escape

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.1%}"

    top_rows = "".join(
        f"<tr><td>{e(t['label'])}</td><td>{t['count']}</td><td>{pct(t['share'])}</td>"
        f"<td>{e(t['empathy_category'] or '')}</td></tr>" for t in data["top"]
    )
    alert_rows = "".join(
        f"<tr><td>{e(a['severity'])}</td><td>{e(a.get('theme_label') or a.get('theme_id') or '')}</td>"
        f"<td>{e(', '.join(f'{k}={v}' for k, v in a['dimensions'].items()) or 'all feedback')}</td>"
        f"<td>{e(a['window_start'])} – {e(a['window_end'])}</td><td>{a['observed']:g} vs {a['expected']:.1f}</td>"
        f"<td>{e(a.get('explanation') or '')}</td></tr>" for a in data["alerts"]
    ) or '<tr><td colspan="6">no alerts in this period</td></tr>'
    agent_rows = "".join(
        f"<tr><td>{e(a['value'])}</td><td>{a['total']}</td><td>{pct(a['empathy_share'])}</td><td>"
        + ", ".join(f"{e(t['label'])} ({pct(t['share'])})" for t in a["themes"]) + "</td></tr>"
        for a in data["agents"]
    )
    def figure(name: str, title: str) -> str:
        return f'<figure><img src="{e(name)}" alt="{e(title)}"><figcaption>{e(title)}</figcaption></figure>'

    figures = "".join(figure(n, t) for n, t in images if n != IMPACT_PNG)
    impact_figure = "".join(figure(n, t) for n, t in images if n == IMPACT_PNG)
    impact_rows = "".join(
        f"<tr><td>{e(t['label'])}</td><td>{t['share']:.1%}</td><td>{t['mean_with']:.1f} vs {t['mean_without']:.1f}</td>"
        f"<td>{t['effect']:+.1f} ({t['ci_low']:+.1f} to {t['ci_high']:+.1f})</td><td>{t['points_lost']:.2f}</td>"
        f"<td>{e(t['sentence'])}</td></tr>" for t in data["impact"]
    ) or (f'<tr><td colspan="6">no theme has {IMPACT_MIN_COUNT} or more scored items in this period '
          f'({data["scored"]} scored in all)</td></tr>')
    emp_n, emp_total = sum(p["count"] for p in data["empathy"]), sum(p["total"] for p in data["empathy"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer feedback report {e(data['since'][:10])}</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1f2430}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}}
td,th{{border-bottom:1px solid #e3e5ea;padding:.3rem .5rem;text-align:left;vertical-align:top}}
figure{{margin:1rem 0}}img{{max-width:100%}}figcaption{{color:#667;font-size:.85rem}}
</style></head><body>
<h1>Customer feedback report</h1>
<p>{e(data['since'])} to {e(data['until'])} (UTC) · {data['total']} feedback items ·
empathy complaints {emp_n} ({pct(emp_n / emp_total if emp_total else None)}) · {len(data['alerts'])} alerts ·
made {e(data['generated_at'])}</p>
<h2>Alerts</h2>
<table><tr><th>Severity</th><th>Theme</th><th>Where</th><th>Window</th><th>Observed vs expected</th><th>Why</th></tr>
{alert_rows}</table>
<h2>What costs the score most</h2>
<p>{data['scored']} of the {data['total']} items carry a score (NPS, CSAT, CES or a rating, put on one 0-100 scale).
Each theme's items are compared with the rest; points lost is what the average score loses to the theme (its share
times the gap). An association, not proof of cause.</p>
<table><tr><th>Theme</th><th>Share</th><th>Score with vs without</th><th>Gap (95% CI)</th><th>Points lost</th>
<th>In words</th></tr>{impact_rows}</table>
{impact_figure}
<h2>Top themes</h2>
<table><tr><th>Theme</th><th>Items</th><th>Share</th><th>Empathy</th></tr>{top_rows}</table>
{figures}
<h2>Agents</h2>
<table><tr><th>Agent</th><th>Items</th><th>Empathy share</th><th>Top themes</th></tr>{agent_rows}</table>
</body></html>
"""


@click.command("report")
@click.option("--since", required=True,
              help="Start: ISO date/time (UTC), or a span back from the newest data: 7d, 12h.")
@click.option("--until", default=None, help="End (ISO date/time; default: the newest data).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.html, the PNG charts and data.json (created if missing).")
@click.option("--database-url", envvar="DATABASE_URL", default=None, help="The insight store (default: DATABASE_URL).")
@click.option("--top", default=6, show_default=True, type=click.IntRange(1, 12), help="Themes in the charts.")
@click.option("--bucket", default=None, type=click.Choice(["1h", "6h", "12h", "1d", "7d"]),
              help="Sum windows per bucket in the charts (default: by the length of the period).")
def command(since: str, until: str | None, out_dir: Path, database_url: str | None, top: int,
            bucket: str | None) -> None:
    """Write PNG charts and a short HTML report of a period: the alerts with their evidence, what each theme
    costs in score, top themes and their trend, empathy-complaint share, theme x journey stage, and agents.

    Example: insights report --since 7d --out report/
    """
    from insights.impact import load_rows, theme_impacts, theme_labels
    from insights.impact_plots import plot_theme_impact
    from insights.store import InsightStore
    from insights.store import queries as q

    store = InsightStore.from_url(database_url or Settings().database_url)
    engine = store.engine
    _, newest = q.data_range(engine)
    start = _parse_time(since, newest, "--since")
    end = _parse_time(until, newest, "--until") if until else (newest or datetime.now(UTC))
    if start >= end:
        raise click.BadParameter(f"{start.isoformat()} is not before {end.isoformat()}", param_hint="--since")
    span = end - start
    seconds = {"1h": 3600, "6h": 21600, "12h": 43200, "1d": 86400, "7d": 604800}.get(bucket or "") or (
        86400 if span > timedelta(days=14) else 21600 if span > timedelta(days=3) else None)

    top_items, total = q.top_themes(engine, start, end, limit=top)
    trend_points = q.slice_trend(engine, [t["theme_id"] for t in top_items], start, end, bucket_seconds=seconds)
    agents, _ = q.themes_by_dimension(engine, "agent_id", start, end, top=3, limit=25)
    alerts, _ = q.list_alerts(engine, since=start, until=end, limit=200)
    data = {
        "since": start.isoformat(), "until": end.isoformat(), "generated_at": datetime.now(UTC).isoformat(),
        "total": total, "top": top_items,
        "trends": [{**t, "points": trend_points[t["theme_id"]]} for t in top_items],
        "empathy": q.slice_trend(engine, [q.EMPATHY], start, end, bucket_seconds=seconds)[q.EMPATHY],
        "heatmap": q.theme_matrix(engine, "journey_stage", start, end, themes=top + 2),
        "agents": agents, "alerts": alerts,
    }
    scored = load_rows(engine, start, end, scored_only=True)
    impacts = theme_impacts(scored, theme_labels(engine), min_count=IMPACT_MIN_COUNT)
    data["scored"] = len(scored)
    data["impact"] = [t.as_dict() for t in impacts[: 2 * top]]
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _plots(out_dir, data)
    if scored:
        plot_theme_impact(impacts, out_dir / IMPACT_PNG, top=2 * top)
        images.append((IMPACT_PNG, "Points of the average score (0-100) lost to each theme, with 95% intervals"))
    (out_dir / "report.html").write_text(_html(data, images), encoding="utf-8")
    (out_dir / "data.json").write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    store.engine.dispose()
    click.echo(f"wrote {out_dir / 'report.html'} with {len(images)} charts: {total} feedback items, "
               f"{len(alerts)} alerts, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC", err=True)
