"""CPU per item of the worker's per-message steps against the library call each replaced, in one run.

The worker's cost per message is the model's plus what it spends around it; the steps below were measured to
weigh most and replaced, and this keeps the comparisons reproducible:

- embedding: ``Embedder.encode_uncached`` (batches of similar token length) on stream-sized chunks of the
  simulator's comments, against one ``model.encode(all, batch_size=64)`` over the same texts (the throughput
  benchmark's reference), on the worker's default backend;
- validation: ``insights.schemas.first_error`` (fastjsonschema, jsonschema only to explain a rejection) against
  jsonschema's validator, on the simulator's survey responses;
- sending: ``streams.app.direct_sender`` against faust's ``Topic.send``, on the same producer, N assignment-sized
  keyed messages in batches awaited to delivery (as ``publish`` does), to a Tansu broker started here.

Prints microseconds of CPU per item for each and the ratios; the LAST line is the send ratio.

    python benchmarks/hot_path.py --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.schemas import first_error, validator  # noqa: E402
from insights.simulator import FeedbackSimulator  # noqa: E402
from streams.app import direct_sender  # noqa: E402
from streams.broker import LocalBroker  # noqa: E402


def assignment_like(i: int) -> tuple[bytes, bytes]:
    """A key and a value of the size of a cx.theme-assignments message (about 600 bytes)."""
    feedback_id = f"svy-{i:032d}"
    value = {
        "schema_version": 1, "feedback_id": feedback_id, "kind": "survey", "event_time": "2026-12-02T05:00:00+00:00",
        "theme_id": "th-0042", "coarse_theme_id": "co-0007", "theme_label": "agent rude / hung up",
        "empathy_category": "rude", "similarity": 0.71, "previous_theme_id": None, "revision": 0,
        "source_topic": "cx.feedback.survey", "source_partition": i % 8, "score": 2, "score_type": "csat",
        "dimensions": {"agent_id": "a-07", "team": "billing", "journey_stage": "support", "channel": "phone"},
        "text": "The agent was short with me and hung up before I could explain the problem with my bill.",
        "assigned_at": "2026-12-02T05:00:01+00:00",
    }
    return feedback_id.encode(), json.dumps(value).encode()


async def timed(name: str, messages: list[tuple[bytes, bytes]], batch: int, send) -> float:
    """CPU microseconds per message of sending ``messages`` in batches, each batch awaited to delivery."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, len(messages), batch):
        await asyncio.gather(*[await send(k, v) for k, v in messages[start:start + batch]])
    cpu_us = 1e6 * (time.process_time() - cpu0) / len(messages)
    print(f"{name}: {cpu_us:.0f} us of CPU per message, {len(messages) / (time.perf_counter() - t0):,.0f} messages/s")
    return cpu_us


async def compare(bootstrap: str, n: int, batch: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(name, 8, 1) for name in ("via-faust", "via-direct")])
    await admin.close()
    messages = [assignment_like(i) for i in range(n)]
    app = faust.App("send-path-bench", broker=f"kafka://{bootstrap}", key_serializer="raw", value_serializer="raw",
                    web_enabled=False)
    topic = app.topic("via-faust", key_type=bytes, value_type=bytes)
    await app.producer.start()
    try:
        send = direct_sender(app)
        await timed("warm-up", messages[:batch * 4], batch, lambda k, v: send("via-direct", k, v))
        faust_us = await timed("faust Topic.send", messages, batch, lambda k, v: topic.send(key=k, value=v))
        direct_us = await timed("direct_sender", messages, batch, lambda k, v: send("via-direct", k, v))
    finally:
        await app.producer.stop()
    print(f"direct_vs_faust_cpu_per_message={direct_us / faust_us:.2f}")


def compare_validation(n: int) -> None:
    """CPU microseconds per document of jsonschema's verdict and first_error's, which must agree."""
    docs = [dict(item.message) for item in FeedbackSimulator(seed=3, review_share=0.0).generate(n)]
    reference = validator("survey_response")
    first_error("survey_response", docs[0])  # compile outside the timing
    cpu0 = time.process_time()
    expected = [reference.is_valid(doc) for doc in docs]
    reference_us = 1e6 * (time.process_time() - cpu0) / n
    cpu0 = time.process_time()
    got = [first_error("survey_response", doc) is None for doc in docs]
    fast_us = 1e6 * (time.process_time() - cpu0) / n
    if got != expected:
        raise SystemExit("first_error and jsonschema disagree on a document: a bug in insights.schemas")
    print(f"validation of {n:,} survey responses ({n - sum(expected):,} invalid): jsonschema {reference_us:.0f} us, "
          f"first_error {fast_us:.0f} us of CPU per document (x{reference_us / fast_us:.1f})")


def compare_embedding(n: int, chunks: tuple[int, ...] = (100, 512)) -> None:
    """Texts/s of the worker's batching in chunks (as stream batches arrive) against one model.encode call."""
    from insights.embedding import Embedder

    texts = [item.message["comment"] for item in FeedbackSimulator(seed=5, review_share=0.0).generate(n)]
    embedder = Embedder(backend="onnx", cache_size=0)
    embedder.model.encode(texts[:64], batch_size=64)  # warm-up

    def rate(encode) -> float:
        t0 = time.perf_counter()
        encode()
        return len(texts) / (time.perf_counter() - t0)

    reference = rate(lambda: embedder.model.encode(texts, batch_size=64, normalize_embeddings=True))
    print(f"embedding {n:,} comments: model.encode(all, batch_size=64) {reference:,.0f} texts/s")
    for size in chunks:
        ours = rate(lambda size=size: [embedder.encode_uncached(texts[i:i + size]) for i in range(0, n, size)])
        print(f"  Embedder in chunks of {size}: {ours:,.0f} texts/s (x{ours / reference:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--texts", type=int, default=2_000, help="comments embedded by each way of batching")
    parser.add_argument("--batch", type=int, default=512, help="messages per awaited batch (the worker's BATCH_SIZE)")
    args = parser.parse_args()
    compare_embedding(args.texts)
    compare_validation(min(args.messages, 5_000))
    broker = LocalBroker().start()
    try:
        asyncio.run(compare(broker.bootstrap_servers, args.messages, args.batch))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
