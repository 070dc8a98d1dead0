"""Run the stream processor (a faust worker) against KAFKA_BOOTSTRAP_SERVERS."""

from __future__ import annotations

import asyncio
import logging
import os

from insights.redact import RedactingLogFilter
from insights.runtime import Runtime
from insights.settings import Settings
from streams.app import create_app
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Create the topics, load the model, and process until stopped (SIGTERM / Ctrl-C)."""
    from faust.worker import Worker as FaustWorker

    class Worker(FaustWorker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            """No terminal spinner: faust's lowers the root logger to DEBUG so that it spins on every record,
            which builds a record for each of aiokafka's per-request debug lines (measurable CPU on the event
            loop) and writes cursor codes into log files."""
            self.spinner = None

    # The model's threads share the cores with the event loop and the learner: threads that sleep instead of
    # spinning when a parallel region ends leave those cores to them (measured: 9.4 -> 8.6 ms of CPU per
    # message at the same throughput). Read once, when torch starts its thread pool, hence before the model.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    asyncio.run(ensure_topics(settings))
    runtime = Runtime.build(settings)
    app = create_app(settings, runtime)
    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingLogFilter())
    worker.execute_from_commandline()
