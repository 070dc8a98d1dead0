"""``insights demo``: the whole system on one machine, with a simulated rise of rude-agent complaints.

It starts the Tansu broker on a free port, the worker (a subprocess, as in production), the read API and
dashboard (a thread), and a simulator that plays survey responses and reviews on a fast simulated clock: a
quiet period, then one agent's customers start calling the agent rude. Every alert that reaches cx.alerts is
printed to stdout as one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tqdm import tqdm

from insights.settings import Settings
from insights.simulator import FeedbackSimulator, Injection
from insights.store import InsightStore
from streams.broker import LocalBroker, free_port
from streams.kafka_config import aiokafka_kwargs
from streams.seed import seed_themes
from streams.topics import ensure_topics

DEMO_DIR = Path("demo-data")
DEFAULT_DEMO_DB = "sqlite:///demo-data/insights.db"
RATE_PER_SECOND = 60  # the most it produces; it waits whenever the worker is MAX_BACKLOG behind
MAX_BACKLOG = 300
DRAIN_SECONDS = 30  # at the end, how long to wait for the worker to store what is still in flight
SEED_ITEMS = 1500
ITEMS_PER_WINDOW = 300
QUIET_WINDOWS = 8
AGENTS = 8  # a-01 .. a-08: about 30 survey responses per agent and window
RISE_AGENT = "a-07"


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": settings.database_url,
            "APP_ID": settings.app_id,
            "WORKER_DATA_DIR": settings.worker_data_dir,
            "WINDOW": settings.window,
            "GRACE": settings.grace,
            "ALERT_MIN_VOLUME": str(settings.alert_min_volume),
            "BATCH_SIZE": str(settings.batch_size),
            "KAFKA_REBALANCE_TIMEOUT": str(settings.kafka_rebalance_timeout),
            "KAFKA_TABLE_RECOVERY_CHECK": "false",  # the embedded broker is Tansu (see insights.settings)
            "LOG_LEVEL": "INFO",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _start_api(settings: Settings, store: InsightStore, port: int):
    import uvicorn

    from insights.api import create_api

    server = uvicorn.Server(
        uvicorn.Config(create_api(settings, store), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    return server, thread


async def _simulate(settings: Settings, simulator: FeedbackSimulator, stop_at: float, counters: dict) -> None:
    """Produce simulated feedback at a steady pace until the time is up."""
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), linger_ms=20)
    await producer.start()
    try:
        stream = iter(simulator)
        tick = 0.2
        per_tick = max(1, round(RATE_PER_SECOND * tick))
        while time.monotonic() < stop_at:
            started = time.monotonic()
            if counters["produced"] - counters["stored"] > MAX_BACKLOG:
                # the simulated clock runs no faster than this machine embeds: a slow machine plays fewer
                # windows, not windows the worker never reaches before the demo ends
                await asyncio.sleep(tick)
                continue
            for _ in range(per_tick):
                item = next(stream)
                topic = settings.topic_survey if item.kind == "survey" else settings.topic_review
                await producer.send(topic, json.dumps(item.message).encode("utf-8"))
                counters["produced"] += 1
            await asyncio.sleep(max(0.0, tick - (time.monotonic() - started)))
        await producer.flush()
    finally:
        await producer.stop()


def print_alert(alert: dict) -> None:
    """One JSON line on stdout. Through ``tqdm.write``: the progress bar on stderr is cleared first and drawn again
    below, so on a terminal the alert starts a line of its own instead of trailing the bar's text."""
    tqdm.write(json.dumps(alert, ensure_ascii=False), file=sys.stdout)
    sys.stdout.flush()


async def _watch_alerts(settings: Settings, stop_at: float, counters: dict) -> None:
    """Print every alert from cx.alerts as one JSON line on stdout."""
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(settings), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(settings.topic_alerts, 0)])
        while time.monotonic() < stop_at:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    print_alert(json.loads(record.value))
                    counters["alerts"] += 1
    finally:
        await consumer.stop()


async def _progress(store: InsightStore, stop_at: float, started: float, duration: int, counters: dict) -> None:
    bar = tqdm(total=duration, unit="s", desc="demo", file=sys.stderr, dynamic_ncols=True,
               bar_format="{desc} {bar} {n:.0f}/{total}s{postfix}")
    def refresh() -> None:
        with contextlib.suppress(Exception):  # the worker may be creating tables at this very moment
            from insights.store import FeedbackRecord, ThemeRecord

            counters["stored"] = store.count(FeedbackRecord)
            counters["themes"] = store.count(ThemeRecord)
        bar.n = min(duration, time.monotonic() - started)
        bar.set_postfix_str(  # tqdm puts ", " before it
            f"produced {counters['produced']:,} stored {counters['stored']:,} "
            f"themes {counters['themes']} alerts {counters['alerts']}"
        )

    try:
        while time.monotonic() < stop_at:
            await asyncio.sleep(1.0)
            refresh()
        # The last batches are still in the worker when producing stops: let it store them before it is stopped,
        # so that the summary accounts for every message (the simulator sends only valid ones).
        drain_until = time.monotonic() + DRAIN_SECONDS
        while counters["stored"] < counters["produced"] and time.monotonic() < drain_until:
            await asyncio.sleep(0.5)
            refresh()
    finally:
        bar.close()


def _stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_demo(duration: int = 180, database_url: str = DEFAULT_DEMO_DB, api_port: int = 8000, seed: int = 7) -> int:
    """Run everything for ``duration`` seconds; 0 when at least one alert arrived, else 1."""
    DEMO_DIR.mkdir(exist_ok=True)
    if database_url == DEFAULT_DEMO_DB:
        for suffix in ("", "-wal", "-shm"):
            Path(f"demo-data/insights.db{suffix}").unlink(missing_ok=True)
    counters = {"produced": 0, "stored": 0, "themes": 0, "alerts": 0}
    started = time.monotonic()
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    broker = LocalBroker(log_file=DEMO_DIR / "tansu.log").start()
    worker: subprocess.Popen | None = None
    server = None
    try:
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            database_url=database_url,
            app_id=f"cx-insights-demo-{uuid.uuid4().hex[:6]}",
            worker_data_dir=str(DEMO_DIR / "worker"),
            window="1h",
            grace="10m",
            batch_size=64,
            kafka_rebalance_timeout=5.0,  # Tansu holds a new group's first join this long
        )
        say(f"broker: Tansu at {broker.bootstrap_servers}; store: {database_url}")
        asyncio.run(ensure_topics(settings))
        store = InsightStore.from_url(database_url)
        log_path = DEMO_DIR / "worker.log"
        with log_path.open("ab") as log_file:
            worker = subprocess.Popen(
                [sys.executable, "-m", "insights.cli", "worker"],
                env=_worker_env(settings), stdout=log_file, stderr=log_file, start_new_session=True,
            )
        port = api_port or free_port()
        server, _thread = _start_api(settings, store, port)
        say(f"worker: pid {worker.pid}, log {log_path}; dashboard: http://127.0.0.1:{port}/  API docs: /docs")

        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
        window = timedelta(hours=1)
        # Seed the registry from last month's feedback, as a deployment would with `insights seed`, so the
        # trends are counted against mature themes from the first window.
        history = FeedbackSimulator(seed=seed + 1000, start=start - timedelta(days=30), items_per_window=10)
        say(f"seeding themes from {SEED_ITEMS:,} historic items (insights seed) ...")
        seeded = seed_themes(settings, [item.text for item in history.generate(SEED_ITEMS)], store=store)
        say(f"seeded {seeded} themes")
        rise_start = start + QUIET_WINDOWS * window
        simulator = FeedbackSimulator(
            seed=seed,
            start=start,
            agents=AGENTS,
            items_per_window=ITEMS_PER_WINDOW,
            window=window,
            injections=[
                Injection(theme="rude", multiplier=6.0, start=rise_start, end=rise_start + 200 * window,
                          dimensions={"agent_id": RISE_AGENT})
            ],
        )
        say(f"simulator: {ITEMS_PER_WINDOW} items per simulated hour, up to {RATE_PER_SECOND}/s; rude-agent "
            f"complaints for agent {RISE_AGENT} rise from simulated window {QUIET_WINDOWS}")
        running = time.monotonic()  # the simulation runs for `duration` after start-up and seeding
        stop_at = running + duration

        async def main() -> None:
            await asyncio.gather(
                _simulate(settings, simulator, stop_at, counters),
                _watch_alerts(settings, stop_at, counters),
                _progress(store, stop_at, running, duration, counters),
            )

        asyncio.run(main())
    except KeyboardInterrupt:
        say("interrupted: stopping")
    finally:
        if server is not None:
            server.should_exit = True
        if worker is not None:
            _stop_process(worker)
        broker.stop()
    say(f"done in {time.monotonic() - started:.0f}s: produced {counters['produced']:,}, stored "
        f"{counters['stored']:,}, themes {counters['themes']}, alerts {counters['alerts']}")
    if counters["alerts"] == 0:
        say("no alert arrived; see demo-data/worker.log")
        return 1
    return 0
