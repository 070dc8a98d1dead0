"""The faust application: topics and agents that move data between Kafka and the insights domain.

Agents here do no domain work themselves: they batch events, hand them to ``insights`` (in a worker thread, so
the event loop keeps heart-beating while the model embeds), and publish what comes back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from insights.memory import trim_heap
from insights.pipeline import BatchResult, RawMessage
from insights.runtime import Runtime, make_monitor
from insights.settings import Settings
from insights.trend_stage import TrendStage
from insights.trends.counts import FLUSH_FIRST
from insights.trends.write_behind import WriteBehindState
from streams.kafka_config import faust_broker_url, faust_credentials
from streams.registry import follow_topic
from streams.transport import InsightsApp

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES_ON_WIRE = 4 * 1024 * 1024
PROCESSING_ATTEMPTS = 3
LEARNING_CHUNK_BYTES = 1024 * 1024
# How long a starting worker waits to read cx.themes to its end before it assigns anything (see until_registry_read)
REGISTRY_WAIT_SECONDS = 60.0
LEARNING_BATCH_MESSAGES = 8  # learning-topic messages (each up to a batch of items) per learner/trend step


def _dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _background_priority(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux: per thread): learning can wait, embedding is the hot path,
    so on a busy machine discovery rounds take the CPU the model leaves idle instead of slowing it down."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: run at normal priority
        log.debug("learner thread keeps normal priority: %s", exc)


def learning_chunks(items: list[dict[str, Any]], max_bytes: int = LEARNING_CHUNK_BYTES) -> list[bytes]:
    """A batch's items for the learning topic as few messages as fit ``max_bytes`` each (``{"items": [...]}``).

    The learning topic is internal and read whole by the learner and the trend agent, so per-item messages
    would only add per-message cost (a send, a fetch and a dispatch on the event loop, twice) to every item.
    """
    chunks, parts, size = [], [], 0
    for item in items:
        part = _dumps(item)
        if parts and size + len(part) > max_bytes:
            chunks.append(b'{"items":[' + b",".join(parts) + b"]}")
            parts, size = [], 0
        parts.append(part)
        size += len(part) + 1
    if parts:
        chunks.append(b'{"items":[' + b",".join(parts) + b"]}")
    return chunks


def learning_items(value: bytes) -> list[dict[str, Any]]:
    """The items of one learning-topic message (see :func:`learning_chunks`)."""
    return json.loads(value)["items"]


def learning_batch(events: list[Any]) -> list[dict[str, Any]]:
    """The items of a batch of learning-topic events; an unreadable message is logged and skipped."""
    items: list[dict[str, Any]] = []
    for e in events:
        try:
            items.extend(learning_items(e.value))
        except (TypeError, ValueError, KeyError):
            log.error("skipping an unreadable learning message at offset %s", e.message.offset)
    return items


def direct_sender(app: faust.App) -> Callable[[str, bytes | None, bytes], Awaitable[asyncio.Future]]:
    """``send(topic, key, value)`` on the app's started aiokafka producer, returning the delivery future.

    The worker sends one message per feedback item (its assignment), so the send path is per-item cost. faust's
    ``Topic.send`` wraps each message (futures, callbacks, sensors, serializers) at 285 us of CPU per message
    against 65 us for the same producer's own ``send`` (benchmarks/hot_path.py: Tansu, 20,000 assignments).
    Same producer, same default partitioner (murmur2 of the key), so keys land where faust would put them.
    """
    producer = app.producer._ensure_producer()  # type: ignore[attr-defined]  # faust exposes no public getter

    async def send(topic: str, key: bytes | None, value: bytes) -> asyncio.Future:
        return await producer.send(topic, value, key=key)

    return send


def create_app(settings: Settings, runtime: Runtime) -> faust.App:
    """Build the faust app over a runtime (store, embedder, theme model, trend stage)."""
    app = InsightsApp(
        settings.app_id,
        broker=faust_broker_url(settings),
        broker_credentials=faust_credentials(settings),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        datadir=settings.worker_data_dir,
        web_enabled=False,
        producer_max_request_size=MAX_MESSAGE_BYTES_ON_WIRE,
        consumer_max_fetch_size=settings.kafka_fetch_bytes_per_partition,
        broker_commit_interval=settings.kafka_commit_interval,
        broker_rebalance_timeout=settings.kafka_rebalance_timeout,
        broker_session_timeout=min(60.0, settings.kafka_rebalance_timeout * 2),
        recovery_consistency_check=settings.kafka_table_recovery_check,
        # A rebalance does not wait for batches in flight (a discovery round can take tens of seconds, past the
        # group's rebalance timeout): their offsets are not committed, so the partitions' next owner reads them
        # again, and every stage is idempotent (upserts by id, trend counts by feedback id).
        stream_wait_empty=False,
    )
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="insights-domain")
    # the learner's model lives in its own thread (see Runtime.build), so discovery never holds up embedding
    learner_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="insights-learner",
                                          initializer=_background_priority)
    kinds = {settings.topic_survey: "survey", settings.topic_review: "review"}

    feedback = app.topic(settings.topic_survey, settings.topic_review, key_type=bytes, value_type=bytes)
    alerts = app.topic(settings.topic_alerts, key_type=bytes, value_type=bytes)
    # One partition: the theme registry has one writer at a time, so theme ids agree across workers.
    to_learn = app.topic(f"{settings.app_id}-theme-learning", partitions=1, internal=True,
                         key_type=bytes, value_type=bytes)

    async def publish(result: BatchResult) -> None:
        """Send what a batch produced and wait until the broker has it: the batch's input offsets are committed
        once this returns, so a kill right after must not lose a message still in the producer's buffer."""
        send = direct_sender(app)
        sent = []
        for dl in result.dead_letters:
            log.warning("dead-lettered %s offset %s: %s", dl["source_topic"], dl["source_offset"], dl["reason"])
            sent.append(await send(settings.topic_dead_letter, None, _dumps(dl)))
        for event in result.theme_events:
            sent.append(await send(settings.topic_themes, event["theme_id"].encode(), _dumps(event)))
        for a in result.assignments:
            sent.append(await send(settings.topic_assignments, a["feedback_id"].encode(), _dumps(a)))
        for chunk in learning_chunks(result.to_learn):
            sent.append(await send(to_learn.get_topic_name(), None, chunk))
        await asyncio.gather(*sent)

    async def process_or_reject(batch: list[RawMessage]) -> BatchResult:
        """Process a batch; a batch that fails again and again (a bug, not an outage: the store retries those
        itself) is dead-lettered with the error, because take_events acks a batch even when its body raises."""
        loop = asyncio.get_running_loop()
        for attempt in range(1, PROCESSING_ATTEMPTS + 1):
            try:
                return await loop.run_in_executor(executor, runtime.processor.process, batch)
            except Exception as exc:  # noqa: BLE001 - logged, retried, then dead-lettered
                log.exception("batch of %d failed (attempt %d of %d)", len(batch), attempt, PROCESSING_ATTEMPTS)
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
                await asyncio.sleep(attempt)
        return runtime.processor.reject(batch, f"processing failed {PROCESSING_ATTEMPTS} times: {error}")

    registry_read = asyncio.Event()

    async def until_registry_read() -> None:
        """Wait until this worker has applied the theme registry as it stood at start. Batches and cx.themes
        events take turns in the domain thread, so a worker started on a backlog assigned its first batches
        against part of the seeded themes and left the rest without one (246 of 1,200 rows in tests/
        test_scale_out.py, 2026-12-07). A registry that cannot be read does not stop the stream for long."""
        try:
            await asyncio.wait_for(registry_read.wait(), REGISTRY_WAIT_SECONDS)
        except TimeoutError:
            if not registry_read.is_set():
                registry_read.set()
                log.warning("%s not read to its end in %.0f s; assigning against the themes read so far",
                            settings.topic_themes, REGISTRY_WAIT_SECONDS)

    # Two actors take turns: while one batch is embedded in the domain thread, the other is read, parsed and
    # published, so the model is not left idle between batches. Offsets are committed only up to the oldest
    # batch not yet done, so a crash still replays every batch that was not stored.
    @app.agent(feedback, name="ingest", concurrency=2)
    async def ingest(stream: faust.StreamT) -> None:
        """Validate, redact, embed, assign and store each batch; dead-letter what cannot be accepted."""
        await until_registry_read()
        async for events in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            batch = [
                RawMessage(
                    kind=kinds[e.message.topic],  # type: ignore[arg-type]
                    value=e.value if isinstance(e.value, bytes) else bytes(e.value or b""),
                    topic=e.message.topic,
                    key=e.key,
                    partition=e.message.partition,
                    offset=e.message.offset,
                )
                for e in events
            ]
            result = await process_or_reject(batch)
            await publish(result)
            log.info(
                "batch: %d in, %d stored, %d dead-lettered, %d theme events in %.2fs",
                len(batch), len(result.accepted), len(result.dead_letters), len(result.theme_events), result.seconds,
            )

    @app.agent(to_learn, name="learn")
    async def learn(stream: faust.StreamT) -> None:
        """The one learner: partial_fit on what every worker saw; publish lineage and re-assignments."""
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(LEARNING_BATCH_MESSAGES, within=settings.batch_seconds):
            items = learning_batch(events)
            try:
                learned = await loop.run_in_executor(learner_executor, runtime.learner.learn, items)
            except Exception:  # noqa: BLE001 - learning is best effort; assignments are already stored
                log.exception("theme learning failed on %d items; they stay as assigned", len(items))
                continue
            await publish(BatchResult(theme_events=learned.theme_events, assignments=learned.assignments))
            if learned.theme_events:
                log.info("theme registry: %d lineage events (%s)", len(learned.theme_events),
                         ", ".join(sorted({ev["event_type"] for ev in learned.theme_events})))

    @app.task
    async def follow_theme_registry() -> None:
        """Every worker applies cx.themes from the start, so all assign against the same themes."""
        await follow_topic(settings, settings.topic_themes, runtime.themes.apply_event, executor,
                           caught_up=registry_read)

    @app.timer(interval=5.0)
    async def place_after_registry_catch_up() -> None:
        """Items the learner buffered before it read a seed (or another learner's themes) are re-assigned once it
        has, without waiting for more feedback: a stream seeded after it started may be quiet for a while."""
        learned = await asyncio.get_running_loop().run_in_executor(learner_executor, runtime.learner.catch_up)
        if learned.assignments:
            await publish(BatchResult(assignments=learned.assignments))
            log.info("re-assigned %d items that themes read from the registry now fit", len(learned.assignments))

    @app.task
    async def follow_theme_registry_for_learning() -> None:
        """The learner's model follows cx.themes too: a worker that becomes the learner after a rebalance
        carries on from the registry as it stands, not from nothing."""
        if runtime.learner.themes is runtime.themes:  # one model (learning in-line): already followed
            return
        await follow_topic(settings, settings.topic_themes, runtime.learner.themes.apply_event, learner_executor)

    # Trend counting needs every item together (a slice's denominator is all items of an agent, a team...).
    # The learning topic already brings every first-hand assignment of every worker to one partition, so the
    # trend agent reads it too instead of repartitioning cx.theme-assignments (one copy of each item less).
    # The monitor's counts and baselines live in a table backed by a changelog topic, so a restarted or
    # rebalanced worker resumes them instead of forgetting the baseline; a write-behind view sends one
    # changelog message per changed key and batch instead of one per change.
    trend_table = app.Table(
        "trend-state",
        schema=faust.Schema(key_serializer="json", value_serializer="json"),
        partitions=1,
        use_partitioner=True,  # written after a batch, outside any one event; one partition anyway
    )
    trend_state = WriteBehindState(trend_table, write_first=FLUSH_FIRST)  # a crash mid-flush never double-counts
    runtime.trends = TrendStage(runtime.store, make_monitor(settings, state=trend_state),
                                partitions=settings.topic_partitions * len(kinds))

    @app.agent(to_learn, name="trends")
    async def trends(stream: faust.StreamT) -> None:
        """Count each first-hand assignment in its window and slices; publish and store closed windows' alerts."""
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(LEARNING_BATCH_MESSAGES, within=settings.batch_seconds):
            messages = learning_batch(events)
            # Merged themes count as their survivors before this batch is counted. The learner reads the same
            # one-partition topic, so it runs on this worker and its registry knows each merge as it is learnt;
            # after a rebalance, the one it rebuilt from cx.themes knows the merges the restored counts lack.
            runtime.trends.follow_registry(runtime.learner.merged_themes())
            new_alerts = runtime.trends.observe(messages)  # on the loop: it reads the faust table
            if new_alerts:  # in the store first: it is idempotent, so a batch read again stores nothing twice
                await loop.run_in_executor(executor, runtime.trends.store_alerts, new_alerts)
            # The closed windows are queued for the changelog right before their alerts, on the same producer
            # (with one broker, usually one produce request): a restart does not close them again, so no alert
            # id is published twice. Awaiting a producer flush in between would widen the gap in which a crash
            # leaves an alert stored but never published.
            trend_state.flush()  # before the batch is acknowledged
            for alert in new_alerts:
                log.warning("ALERT %s: %s", alert["alert_id"], alert.get("explanation", ""))
                await alerts.send(key=alert["alert_id"].encode(), value=_dumps(alert))

    @app.timer(interval=30.0)
    async def release_free_memory() -> None:
        """Return the heap's free pages to the OS, so RSS follows what the worker really holds."""
        trim_heap()

    @app.timer(interval=2.0)
    async def store_window_counts() -> None:
        """Dashboards read window counts from the store; write the changed ones every few seconds."""
        rows = runtime.trends.pop_window_counts()
        if rows:
            await asyncio.get_running_loop().run_in_executor(executor, runtime.trends.store_window_counts, rows)

    app.conf.insights_runtime = runtime  # type: ignore[attr-defined]
    return app
