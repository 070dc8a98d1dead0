"""``insights retention``: delete (or blank) stored feedback text older than RETENTION_DAYS."""

from __future__ import annotations

import json

import click

from insights.settings import Settings


@click.command("retention")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep feedback text this many days after its event time (default: RETENTION_DAYS).")
@click.option("--mode", type=click.Choice(["delete", "blank"]), default="delete", show_default=True,
              help="delete: remove old feedback rows. blank: empty their text and customer/ticket ids, keep the "
              "theme, score and dimensions.")
@click.option("--dry-run", is_flag=True, help="Only count the rows that would be deleted or blanked.")
@click.option("--database-url", default=None, help="The insight store (default: DATABASE_URL).")
def command(days: int | None, mode: str, dry_run: bool, database_url: str | None) -> None:
    """Forget raw (already redacted) feedback text older than N days; keep aggregates.

    Window counts, alerts, themes and their lineage stay, so trends and dashboards are unchanged. Run it daily
    (cron, a Kubernetes CronJob); it works in small transactions next to a running worker and prints a JSON
    summary: {"cutoff", "mode", "rows", "dry_run"}.
    """
    from insights.retention import apply_retention
    from insights.store import InsightStore

    settings = Settings()
    days = days or settings.retention_days
    if not days:
        raise click.UsageError("say how long to keep feedback text: --days N or RETENTION_DAYS=N")
    store = InsightStore.from_url(database_url or settings.database_url)
    try:
        result = apply_retention(store.engine, days, mode=mode, dry_run=dry_run)  # type: ignore[arg-type]
    finally:
        store.engine.dispose()
    click.echo(json.dumps(result.as_dict()))
