"""Follow a compacted topic from its start on every worker (outside any consumer group)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from insights.settings import Settings
from streams.kafka_config import aiokafka_kwargs

log = logging.getLogger(__name__)


async def follow_topic(
    settings: Settings, topic: str, apply: Callable[[dict[str, Any]], Any], executor: Executor | None = None,
    caught_up: asyncio.Event | None = None,
) -> None:
    """Read every partition of ``topic`` from the beginning and hand each JSON message to ``apply``.

    A plain assigned consumer, not a group member: each worker must see every message, not a share.
    ``caught_up`` is set once every message that was on the topic when the follower started has been applied.
    """
    loop = asyncio.get_running_loop()
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(settings), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or {0}
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps) if caught_up is not None else {}
        applied = 0
        while True:
            if caught_up is not None and not caught_up.is_set() and await _reached(consumer, end):
                log.info("%s: read to where it ended at start (%d messages)", topic, applied)
                caught_up.set()
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    try:
                        message = json.loads(record.value)
                        await loop.run_in_executor(executor, apply, message)
                        applied += 1
                    except Exception:  # noqa: BLE001 - one bad registry message must not stop the worker
                        log.exception("could not apply %s offset %d", topic, record.offset)
            if batches:
                log.debug("applied %d messages from %s", applied, topic)
    finally:
        await consumer.stop()


async def _reached(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    """Whether the consumer has read each partition up to the given end offsets."""
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True
