"""End-to-end throughput of the worker against raw ``model.encode`` on the same texts, in the same run.

Produces N realistic messages from the project's simulator to a Tansu broker, runs the real worker until all
are stored, and times ``model.encode`` on the same texts, before and after the worker's run (the reference is the
mean of the two, so a VM whose speed drifts during the run does not skew the ratio one way; the difference is
printed). Also measures produce-to-store latency under light load and the worker's peak RSS. The LAST line is
``end_to_end_vs_encode=<ratio>``.

The reference is PyTorch's ``model.encode`` (what sentence-transformers does out of the box). The worker embeds
on its default backend, ONNX Runtime (same vectors, less CPU); with ``--backend onnx`` raw encode is timed on
ONNX Runtime too and printed as a second ratio, the pipeline's own efficiency. ``--backend torch`` compares
like with like on PyTorch.

    python benchmarks/throughput.py --messages 5000 --repeats realistic
    python benchmarks/throughput.py --messages 5000 --repeats none
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.embedding import load_sentence_transformer  # noqa: E402
from insights.simulator import FeedbackSimulator  # noqa: E402
from insights.store import FeedbackRecord, InsightStore  # noqa: E402
from streams.broker import LocalBroker  # noqa: E402
from tests.worker_harness import WorkerProcess, worker_env  # noqa: E402


def make_messages(n: int, repeats: str, seed: int = 11) -> list[dict]:
    """Simulated messages; ``none`` makes every text unique (a suffix), ``realistic`` keeps the simulator's
    share of exact repeats ("great", "N/A", "rude agent" ...)."""
    sim = FeedbackSimulator(seed=seed, review_share=0.0, short_share=0.07 if repeats == "realistic" else 0.0)
    out = []
    for i, item in enumerate(sim.generate(n)):
        doc = dict(item.message)
        if repeats == "none":
            doc["comment"] = f"{doc['comment']} (ref {i})"
        out.append(doc)
    return out


class RssSampler(threading.Thread):
    """The worker's RSS every half second, with the time of each sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.samples: list[int] = []
        self.times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append(self.proc.memory_info().rss)
                self.times.append(time.monotonic())
            except psutil.Error:
                return
            self.stop.wait(0.5)

    def peak_until(self, moment: float) -> float:
        """Peak RSS in MiB up to ``moment`` (time.monotonic)."""
        kept = [rss for rss, t in zip(self.samples, self.times, strict=True) if t <= moment]
        return max(kept) / 2**20 if kept else float("nan")


async def produce(bootstrap: str, docs: list[dict], rate: float | None = None) -> dict[str, float]:
    """Send docs (at ``rate`` per second, or as fast as possible); returns feedback id -> send time."""
    sent: dict[str, float] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for doc in docs:
            sent[doc["response_id"]] = time.time()
            await producer.send("cx.feedback.survey", json.dumps(doc).encode())
            if rate:
                await producer.flush()
                await asyncio.sleep(1.0 / rate)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def wait_stored(
    store: InsightStore, n: int, worker: WorkerProcess, timeout: float, marks: dict[int, float] | None = None
) -> None:
    """Wait until ``n`` rows are stored; ``marks`` (row count -> None) get the time each count was reached."""
    deadline = time.monotonic() + timeout
    while (stored := store.count(FeedbackRecord)) < n:
        for mark in marks or {}:
            if stored >= mark and marks[mark] is None:
                marks[mark] = time.monotonic()
        worker.assert_running()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {stored} of {n} stored")
        time.sleep(0.2)
    for mark in marks or {}:
        if marks[mark] is None:
            marks[mark] = time.monotonic()


def received_at(store: InsightStore) -> dict[str, float]:
    from sqlmodel import Session, select

    with Session(store.engine) as session:
        rows = session.exec(select(FeedbackRecord.feedback_id, FeedbackRecord.received_at)).all()
    return {fid: (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp() for fid, ts in rows}


def time_encode(model, texts: list[str], name: str) -> float:
    """Texts/s of one ``model.encode`` over ``texts`` (after a warm-up), with its CPU use printed."""
    model.encode(texts[:64], batch_size=64)
    t0, cpu0 = time.perf_counter(), sum(psutil.Process().cpu_times()[:2])
    model.encode(texts, batch_size=64, normalize_embeddings=True)
    seconds = time.perf_counter() - t0
    cpu = sum(psutil.Process().cpu_times()[:2]) - cpu0
    rate = len(texts) / seconds
    print(f"{name}: {rate:,.0f} texts/s ({seconds:.1f}s for {len(texts)} texts, {cpu / seconds:.2f} cores, "
          f"{1000 * cpu / len(texts):.1f} ms/text)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeats", choices=["none", "realistic"], default="realistic")
    parser.add_argument("--latency-messages", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=10.0, help="messages/s of the light-load phase")
    parser.add_argument("--batch-size", type=int, default=None, help="the worker's BATCH_SIZE (default: its own)")
    parser.add_argument("--log-level", default="WARNING", help="the worker's LOG_LEVEL (INFO logs each batch)")
    parser.add_argument("--encode-sample", type=int, default=None,
                        help="time raw encode on this many of the texts (default all; rates are per text)")
    parser.add_argument("--rss-mark", type=int, default=10_000,
                        help="also report the worker's peak RSS until this many messages were stored")
    parser.add_argument("--backend", choices=["torch", "onnx"], default="onnx",
                        help="the worker's EMBEDDING_BACKEND; raw encode is timed on PyTorch (the reference) and, "
                        "for onnx, also on ONNX Runtime, so the pipeline's own efficiency shows too")
    args = parser.parse_args()

    docs = make_messages(args.messages, args.repeats)
    texts = [d["comment"] for d in docs]
    unique = len({" ".join(t.lower().split()) for t in texts})
    print(f"{len(docs)} messages, {unique} distinct texts ({args.repeats} repeats)")

    reference = texts[: args.encode_sample] if args.encode_sample else texts
    models = {"raw model.encode": load_sentence_transformer("all-MiniLM-L6-v2")}
    if args.backend != "torch":
        models[f"raw encode on {args.backend}"] = load_sentence_transformer("all-MiniLM-L6-v2", backend=args.backend)
    before = {name: time_encode(model, reference, f"{name}, before the worker") for name, model in models.items()}

    tmp = Path(tempfile.mkdtemp(prefix="insights-bench-"))
    db = f"sqlite:///{tmp / 'bench.db'}"
    with LocalBroker(log_file=tmp / "tansu.log") as broker:
        env = worker_env(broker.bootstrap_servers, db, tmp, LOG_LEVEL=args.log_level, EMBEDDING_BACKEND=args.backend)
        if args.batch_size:
            env["BATCH_SIZE"] = str(args.batch_size)
        else:
            env.pop("BATCH_SIZE", None)  # the harness sets a small one for tests
        worker = WorkerProcess(env, tmp / "worker.log")
        sampler = RssSampler(worker.proc.pid)
        sampler.start()
        store = InsightStore.from_url(db)
        try:
            # warm the worker (model load, group join) with a few messages, then time the bulk
            warm = make_messages(50, "none", seed=99)
            for d in warm:
                d["response_id"] = "warm-" + d["response_id"]
            asyncio.run(produce(broker.bootstrap_servers, warm))
            wait_stored(store, len(warm), worker, timeout=300)
            procs = {"worker": psutil.Process(worker.proc.pid), "broker": psutil.Process(broker._proc.pid),
                     "benchmark (producer, polling)": psutil.Process()}
            cpu_before = {name: sum(p.cpu_times()[:2]) for name, p in procs.items()}
            start = time.perf_counter()
            marks: dict[int, float | None] = {len(warm) + args.rss_mark: None}
            asyncio.run(produce(broker.bootstrap_servers, docs))
            wait_stored(store, len(warm) + len(docs), worker, timeout=3600, marks=marks)
            e2e_seconds = time.perf_counter() - start
            e2e_rate = len(docs) / e2e_seconds
            print(f"end to end (produce -> stored): {e2e_rate:,.0f} messages/s ({e2e_seconds:.1f}s)")
            cpu = {name: sum(p.cpu_times()[:2]) - cpu_before[name] for name, p in procs.items()}
            print("CPU during the bulk: " + ", ".join(
                f"{name} {seconds / e2e_seconds:.2f} cores ({1000 * seconds / len(docs):.1f} ms/message)"
                for name, seconds in cpu.items()))

            light = make_messages(args.latency_messages, "none", seed=7)
            for d in light:
                d["response_id"] = "lat-" + d["response_id"]
            sent = asyncio.run(produce(broker.bootstrap_servers, light, rate=args.latency_rate))
            wait_stored(store, len(warm) + len(docs) + len(light), worker, timeout=600)
            got = received_at(store)
            latencies = sorted(got[fid] - t for fid, t in sent.items())
            p50 = statistics.median(latencies)
            p95 = latencies[int(0.95 * (len(latencies) - 1))]
            print(f"light load ({args.latency_rate:g}/s): produce-to-store latency p50 {p50:.2f}s p95 {p95:.2f}s")
        finally:
            sampler.stop.set()
            worker.stop()
    peak = max(sampler.samples) / 2**20 if sampler.samples else float("nan")
    print(f"worker peak RSS: {peak:,.0f} MiB")
    if args.messages > args.rss_mark:
        at_mark = sampler.peak_until(next(iter(marks.values())))
        print(f"worker peak RSS until {args.rss_mark:,} stored: {at_mark:,.0f} MiB; over all {args.messages:,}: "
              f"{peak:,.0f} MiB (x{peak / at_mark:.2f})")
    print(f"at {datetime.now(UTC).isoformat(timespec='seconds')}, data in {tmp}")
    # The VM's speed drifts over minutes; raw encode timed on both sides of the worker's run brackets it.
    after = {name: time_encode(model, reference, f"{name}, after the worker") for name, model in models.items()}
    rates = {name: (before[name] + after[name]) / 2 for name in models}
    for name in models:
        drift = abs(after[name] - before[name]) / rates[name]
        print(f"{name}: {rates[name]:,.0f} texts/s, the mean of before and after (they differ by {drift:.0%})")
    encode_rate = rates["raw model.encode"]
    backend_rate = rates.get(f"raw encode on {args.backend}")
    if backend_rate:
        print(f"end to end vs raw encode on the worker's own backend ({args.backend}): {e2e_rate / backend_rate:.2f}")
    print(f"end_to_end_vs_encode={e2e_rate / encode_rate:.2f}")


if __name__ == "__main__":
    main()
