"""``insights intervention``: record interventions (coaching, a fix) and ask whether they changed anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from insights.settings import Settings


def _store_engine(database_url: str | None):
    from insights.store import InsightStore
    from insights.store.interventions import ensure_table

    store = InsightStore.from_url(database_url or Settings().database_url)
    ensure_table(store.engine)
    return store.engine


def _parse_date(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date: use ISO 8601, e.g. 2024-05-15 or 2024-05-15T09:00") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_days(value: str | None) -> timedelta | None:
    if value is None:
        return None
    from insights.trends.duration import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


_DB = click.option("--database-url", default=None, help="The insight store (default: DATABASE_URL).")


@click.group("intervention")
def command() -> None:
    """Record interventions and measure their effect (difference in differences against untreated teams).

    \b
    insights intervention add coaching-may --date 2024-05-15 --team care-east
    insights intervention list
    insights intervention analyze coaching-may --theme rude
    """


@command.command("add")
@click.argument("name")
@click.option("--date", "date", required=True, help="When it started (ISO 8601, UTC unless an offset is given).")
@click.option("--team", "teams", multiple=True, help="A team it applies to (repeat for several).")
@click.option("--agent", "agents", multiple=True, help="An agent it applies to (repeat for several).")
@click.option("--description", default=None, help="What was done.")
@click.option("--replace", is_flag=True, help="Overwrite an intervention of the same name.")
@_DB
def add(name: str, date: str, teams: tuple[str, ...], agents: tuple[str, ...], description: str | None,
        replace: bool, database_url: str | None) -> None:
    """Record intervention NAME, started on --date, for --team and/or --agent."""
    from insights.store.interventions import add_intervention, intervention_dict

    if not teams and not agents:
        raise click.UsageError("say whom it applies to: --team and/or --agent")
    engine = _store_engine(database_url)
    try:
        record = add_intervention(engine, name, _parse_date(date), teams, agents, description, replace=replace)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(json.dumps(intervention_dict(record)))


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_DB
def list_(as_json: bool, database_url: str | None) -> None:
    """List the recorded interventions, oldest first."""
    from insights.store.interventions import intervention_dict, list_interventions

    engine = _store_engine(database_url)
    try:
        records = list_interventions(engine)
    finally:
        engine.dispose()
    for r in records:
        d = intervention_dict(r)
        if as_json:
            click.echo(json.dumps(d))
        else:
            who = ", ".join([*(f"team {t}" for t in d["teams"]), *(f"agent {a}" for a in d["agents"])])
            click.echo(f"{d['name']}\t{d['started_at'][:16]}\t{who}" + (f"\t{d['description']}" if d["description"]
                                                                          else ""))
    if not records and not as_json:
        click.echo("no interventions recorded; add one with: insights intervention add NAME --date ... --team ...",
                   err=True)


@command.command("remove")
@click.argument("name")
@_DB
def remove(name: str, database_url: str | None) -> None:
    """Forget intervention NAME."""
    from insights.store.interventions import delete_intervention

    engine = _store_engine(database_url)
    try:
        if not delete_intervention(engine, name):
            raise click.ClickException(f"no intervention named {name!r}")
    finally:
        engine.dispose()


@command.command("analyze")
@click.argument("name")
@click.option("--theme", "themes", multiple=True, help="Also analyse this theme's rate (repeat for several).")
@click.option("--before", default=None, help="Length of the period before the start, e.g. 28d (default: as much "
              "as the data allows on both sides, equal, at most 90d).")
@click.option("--after", default=None, help="Length of the period after the start (default: as --before).")
@click.option("--unit", default="1d", show_default=True, help="Time unit resampled by the bootstrap.")
@click.option("--confidence", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999))
@click.option("--ces-high-means", type=click.Choice(["effort", "ease"]), default="effort", show_default=True,
              help="Whether a high CES score means high effort (bad) or an easy experience (good).")
@click.option("--plot", "plot_path", default=None, help="Also write a PNG of the empathy (or first theme's) rate.")
@click.option("--json", "as_json", is_flag=True, help="Print the full analysis as JSON.")
@_DB
def analyze(name: str, themes: tuple[str, ...], before: str | None, after: str | None, unit: str, confidence: float,
            ces_high_means: str, plot_path: str | None, as_json: bool, database_url: str | None) -> None:
    """Did intervention NAME change the empathy-complaint rate, the --theme rates and the score?

    Compares the treated teams/agents after vs before the start with the teams without it over the same period
    (difference in differences); the interval is a paired bootstrap over days. Prints one verdict per metric.
    """
    from insights.impact import load_rows, theme_labels
    from insights.interventions import analyze_all
    from insights.store.interventions import get_intervention, list_interventions

    engine = _store_engine(database_url)
    try:
        record = get_intervention(engine, name)
        if record is None:
            raise click.ClickException(f"no intervention named {name!r}; see: insights intervention list")
        before_d, after_d = _parse_days(before), _parse_days(after)
        if after_d is None:
            after_d = before_d
        since = record.started_at - (before_d or timedelta(days=90))
        until = record.started_at + (after_d or timedelta(days=90))
        rows = load_rows(engine, since, until)
        labels = theme_labels(engine)
        others = [r for r in list_interventions(engine) if r.name != record.name]
    finally:
        engine.dispose()
    results = analyze_all(rows, record, themes, labels, others=others, before=before_d, after=after_d,
                          unit=_parse_days(unit), confidence=confidence, ces_high_means=ces_high_means)
    if plot_path:
        from insights.impact_plots import plot_intervention

        plot_intervention(results[1] if themes else results[0], plot_path)
    if as_json:
        click.echo(json.dumps({"intervention": name, "results": [r.as_dict() for r in results]}))
        return
    for r in results:
        click.echo(r.sentence)
        if r.pretrend and not r.pretrend["parallel"]:
            click.echo(f"  caution: {r.pretrend['note']}")
