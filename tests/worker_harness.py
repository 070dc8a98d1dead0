"""Run the real worker (``insights worker``) as a subprocess against a real broker, and read the topics back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


def worker_env(bootstrap: str, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DATABASE_URL": database_url,
            "APP_ID": f"test-{uuid.uuid4().hex[:8]}",
            "WORKER_DATA_DIR": str(data_dir / "worker"),
            "BATCH_SIZE": "64",
            "KAFKA_REBALANCE_TIMEOUT": "5",
            "KAFKA_TABLE_RECOVERY_CHECK": "false",  # Tansu's end offsets trip it (see insights.settings)
            "LOG_LEVEL": "INFO",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class WorkerProcess:
    """``insights worker`` in a subprocess, its output in a log file the test can read."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "insights.cli", "worker"], env=env, stdout=self._log, stderr=self._log,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def assert_running(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


async def _produce(bootstrap: str, messages: list[tuple]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024, linger_ms=5)
    await producer.start()
    try:
        for topic, value, *partition in messages:  # (topic, value) or (topic, value, partition)
            await producer.send(topic, value, partition=partition[0] if partition else None)
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, messages: list[tuple]) -> None:
    """Send ``(topic, value)`` or ``(topic, value, partition)`` messages and wait until the broker has them."""
    asyncio.run(_produce(bootstrap, messages))


async def _read_topic(bootstrap: str, topic: str, partitions: int, timeout: float) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_bytes=8 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)  # read up to what the topic holds now, not to a quiet spell
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in assigned]
            if all(pos >= ends[tp] for pos, tp in zip(positions, assigned, strict=True)):
                break
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                values.extend(r.value for r in records)
    finally:
        await consumer.stop()
    return values


def read_topic(bootstrap: str, topic: str, partitions: int = 1, timeout: float = 10.0) -> list[bytes]:
    """Every message currently in a topic (all partitions), read with assign() from the start."""
    return asyncio.run(_read_topic(bootstrap, topic, partitions, timeout))


def read_json_topic(bootstrap: str, topic: str, partitions: int = 1) -> list[dict]:
    return [json.loads(v) for v in read_topic(bootstrap, topic, partitions)]


def poll_until(condition: Callable[[], bool], timeout: float, worker: WorkerProcess | None = None,
               interval: float = 1.0) -> bool:
    """Whether ``condition()`` came true within ``timeout`` (checked every ``interval`` s, the worker alive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker is not None:
            worker.assert_running()
        if condition():
            return True
        time.sleep(interval)
    return False


def wait_until(condition: Callable[[], bool], timeout: float, worker: WorkerProcess | None = None,
               what: str = "condition") -> None:
    if poll_until(condition, timeout, worker):
        return
    tail = worker.log_text()[-3000:] if worker else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


def wait_settled(read, worker: WorkerProcess, quiet: float, timeout: float) -> None:
    """Wait until ``read()`` has not changed for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        worker.assert_running()
        time.sleep(1.0)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError(f"still changing after {timeout:.0f}s: {last}\n{worker.log_text()[-3000:]}")
