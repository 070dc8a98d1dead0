"""Produce a CSV or JSON Lines file to a topic, as a survey tool or review collector would."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from insights.settings import Settings
from streams.kafka_config import aiokafka_kwargs

MAX_REQUEST_BYTES = 4 * 1024 * 1024


def _coerce(value: str) -> Any:
    """CSV cells are strings; numbers and empty cells become JSON numbers and null."""
    if value == "":
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def read_records(path: Path) -> Iterator[tuple[bytes | None, bytes]]:
    """(key, value) pairs: JSONL lines go as they are (bytes), CSV rows become JSON objects."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as fh:
            for line in fh:
                line = line.rstrip(b"\r\n")
                if line.strip():
                    yield None, line
        return
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            doc = {k: _coerce(v) for k, v in row.items()}
            if "schema_version" in doc and isinstance(doc["schema_version"], float):
                doc["schema_version"] = int(doc["schema_version"])
            yield None, json.dumps(doc).encode("utf-8")


async def produce_messages(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> int:
    """Send messages and wait until the broker has them all."""
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), max_request_size=MAX_REQUEST_BYTES, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        await producer.flush()
        for f in futures:
            await f
    finally:
        await producer.stop()
    return len(messages)


def produce_file(settings: Settings, path: Path, topic: str) -> int:
    return asyncio.run(produce_messages(settings, topic, list(read_records(path))))
