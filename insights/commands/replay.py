"""``insights replay``: the backtest of the whole pipeline over a historic file."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import click
from tqdm import tqdm

from insights.settings import Settings


def _parse_dimensions(values: tuple[str, ...]) -> dict[str, str]:
    dims = {}
    for value in values:
        name, sep, column = value.partition("=")
        if not sep or not name or not column:
            raise click.BadParameter(f"{value!r}: write NAME=COLUMN, e.g. agent_id=agent", param_hint="--dimension")
        dims[name.strip()] = column.strip()
    return dims


@click.command("replay")
@click.argument("input_file", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--time-column", required=True, help="Column with the event time (ISO 8601 or epoch seconds).")
@click.option("--text-column", default="text", show_default=True, help="Column with the feedback text.")
@click.option("--id-column", default=None, help="Column with a unique id (default: the row number).")
@click.option("--score-column", default=None, help="Column with a CSAT/NPS/CES score or rating, if any.")
@click.option("--dimension", "dimensions", multiple=True, metavar="NAME=COLUMN",
              help="Slice alerts by this column, e.g. --dimension agent_id=agent --dimension team=team. Repeatable.")
@click.option("--window", default=None, help="Event-time window, e.g. 1h or 1d (default: WINDOW or 1h).")
@click.option("--grace", default=None, help="How late an event may arrive (default: GRACE).")
@click.option("--min-volume", type=int, default=None, help="Fewest slice items a window needs to alert.")
@click.option("--p-value", type=float, default=None, help="Significance level of the trend test.")
@click.option("--alerts-out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Alerts as JSON lines (schemas/alert.v1.json).")
@click.option("--assignments-out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="One CSV row per input row: id,theme_id,theme_label,empathy_category,...")
@click.option("--seed-fraction", type=click.FloatRange(0.0, 0.9), default=0.2, show_default=True,
              help="Share of the earliest rows to discover themes in before replaying (0: start cold).")
@click.option("--database-url", default=None, help="Also fill this insight store (default: none).")
def replay(input_file: Path, time_column: str, text_column: str, id_column: str | None, score_column: str | None,
           dimensions: tuple[str, ...], window: str | None, grace: str | None, min_volume: int | None,
           p_value: float | None, alerts_out: Path, assignments_out: Path, seed_fraction: float,
           database_url: str | None) -> None:
    """Run the stream's pipeline over INPUT (CSV or JSONL) in event-time order: the backtest.

    Redaction, embedding, theme discovery, window counts and the trend test are the same code the worker
    runs, so alert rules (--window, --min-volume, --p-value) can be tuned on history before going live.
    """
    from insights.embedding import Embedder
    from insights.learning import ThemeLearner
    from insights.pipeline import FeedbackProcessor
    from insights.replay import Replay, ReplayColumns
    from insights.runtime import make_monitor
    from insights.store import InsightStore
    from insights.tabular import TableError, read_table, require_columns
    from insights.themes import ThemeModel
    from insights.trend_stage import TrendStage

    overrides = {k: v for k, v in {"window": window, "grace": grace, "alert_min_volume": min_volume,
                                   "alert_p_value": p_value}.items() if v is not None}
    settings = Settings(**overrides)
    columns = ReplayColumns(time=time_column, text=text_column, id=id_column, score=score_column,
                            dimensions=_parse_dimensions(dimensions))
    try:
        rows = read_table(input_file)
        require_columns(rows, [time_column, text_column, id_column, score_column, *columns.dimensions.values()],
                        input_file)
    except (TableError, OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc

    store = InsightStore.from_url(database_url) if database_url else None
    embedder = Embedder(settings.embedding_model, batch_size=settings.embedding_batch_size,
                        cache_size=settings.embedding_cache_size)
    themes = ThemeModel(embedder=embedder)
    processor = FeedbackProcessor(store, embedder, themes, learner=ThemeLearner(themes, store),
                                  max_text_chars=settings.max_text_chars)
    trends = TrendStage(store, make_monitor(settings))
    with tqdm(total=len(rows), unit="row", desc="replay", file=sys.stderr) as bar:
        result = Replay(processor, trends).run(rows, columns, on_progress=bar.update, seed_fraction=seed_fraction)

    alerts_out.parent.mkdir(parents=True, exist_ok=True)
    with alerts_out.open("w", encoding="utf-8") as fh:
        for alert in result.alerts:
            fh.write(json.dumps(alert, ensure_ascii=False) + "\n")
    _write_assignments(assignments_out, result.assignments, list(columns.dimensions))
    _summary(result, settings.window)


def _write_assignments(path: Path, assignments: dict[str, dict], dimension_names: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["id", "theme_id", "theme_label", "empathy_category", "coarse_theme_id", "similarity", "event_time",
              *dimension_names]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for feedback_id, a in assignments.items():
            writer.writerow({
                "id": feedback_id, "theme_id": a.get("theme_id") or "", "theme_label": a.get("theme_label") or "",
                "empathy_category": a.get("empathy_category") or "", "coarse_theme_id": a.get("coarse_theme_id") or "",
                "similarity": f"{a.get('similarity', 0.0):.3f}", "event_time": a["event_time"],
                **{d: a["dimensions"].get(d, "") for d in dimension_names},
            })


def _summary(result, window: str) -> None:
    say = lambda text="": click.echo(text, err=True)  # noqa: E731
    assigned = sum(1 for a in result.assignments.values() if a.get("theme_id"))
    say(f"{result.rows:,} rows: {len(result.assignments):,} replayed ({assigned:,} with a theme), "
        f"{sum(result.rejected.values()):,} rejected {dict(result.rejected) or ''}")
    say(f"{len(result.alerts)} alerts ({window} windows)")
    if not result.alerts:
        return
    by_slice = Counter(
        (a.get("theme_label") or a["theme_id"],
         ", ".join(f"{k}={v}" for k, v in sorted(a["dimensions"].items())) or "(all feedback)")
        for a in result.alerts
    )
    width = max(len(theme) for theme, _ in by_slice)
    say(f"{'theme'.ljust(width)}  alerts  slice")
    for (theme, dims), n in by_slice.most_common(30):
        say(f"{theme.ljust(width)}  {n:6d}  {dims}")


command = replay
