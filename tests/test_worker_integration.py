"""The walking skeleton on real parts: Tansu broker, the real worker process, SQLite and PostgreSQL.

500 valid messages and 20 broken ones go in; exactly 500 rows and 20 dead letters (each with a reason and the
original bytes) come out, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random

import pytest

from insights.store import FeedbackRecord, InsightStore
from tests.messages import broken_messages, encode, review, survey
from tests.worker_harness import WorkerProcess, produce, read_json_topic, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SURVEY_TOPIC, REVIEW_TOPIC = "cx.feedback.survey", "cx.feedback.review"

OPENINGS = ["", "Honestly, ", "To be fair, ", "Well, ", "I have to say ", "Again: "]
COMPLAINTS = [
    "the agent was rude and talked down to me",
    "it felt like talking to a robot reading a script",
    "I had to repeat my account number four times",
    "nobody called me back although they promised",
    "my parcel arrived a week late",
    "I was charged twice for the same order",
    "the app crashes every time I open the settings",
    "I waited 50 minutes on hold",
    "great service, quick and friendly",
    "the refund took forever to arrive",
    "she hung up on me mid-sentence",
    "they didn't care at all and blamed me",
]


def valid_messages(n: int, seed: int = 1) -> list[tuple[str, bytes, str]]:
    """(topic, bytes, feedback id) for n varied, valid messages: two thirds surveys, one third reviews."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = (rng.choice(OPENINGS) + rng.choice(COMPLAINTS)).strip()
        text = text[0].upper() + text[1:]
        if i % 3 == 2:
            doc = review(i, body=text)
            out.append((REVIEW_TOPIC, encode(doc), doc["review_id"]))
        else:
            doc = survey(i, comment=text)
            out.append((SURVEY_TOPIC, encode(doc), doc["response_id"]))
    return out


def test_worker_stores_every_valid_message_and_dead_letters_every_broken_one(broker, database_url, tmp_path):
    valid = valid_messages(500)
    broken = broken_messages()
    inputs = [(topic, raw) for topic, raw, _ in valid]
    for k, (kind, raw, _why) in enumerate(broken):  # spread the broken ones through the stream
        inputs.insert(25 * k + 7, (SURVEY_TOPIC if kind == "survey" else REVIEW_TOPIC, raw))

    worker = WorkerProcess(worker_env(broker.bootstrap_servers, database_url, tmp_path), tmp_path / "worker.log")
    try:
        produce(broker.bootstrap_servers, inputs)
        store = InsightStore.from_url(database_url)
        wait_until(lambda: store.count(FeedbackRecord) >= 500, timeout=300, worker=worker, what="500 stored rows")
        wait_until(lambda: len(read_json_topic(broker.bootstrap_servers, "cx.dead-letter")) >= 20, timeout=60,
                   worker=worker, what="20 dead letters")
        worker.assert_running()
    finally:
        worker.stop()

    stored_ids = {row.feedback_id for row in _all_rows(store)}
    assert stored_ids == {fid for _, _, fid in valid}

    dead = read_json_topic(broker.bootstrap_servers, "cx.dead-letter")
    assert len(dead) == 20
    by_hash = {d["original_sha256"]: d for d in dead}
    for _kind, raw, error_type in broken:
        letter = by_hash[hashlib.sha256(raw).hexdigest()]
        assert letter["error_type"] == error_type, letter["reason"]
        assert letter["reason"]
        assert letter["original_size"] == len(raw)
        original = base64.b64decode(letter["original_base64"])
        assert raw.startswith(original) and (letter["original_truncated"] or original == raw)

    assignments = read_json_topic(broker.bootstrap_servers, "cx.theme-assignments", partitions=4)
    assert {a["feedback_id"] for a in assignments} == stored_ids


def _all_rows(store: InsightStore) -> list[FeedbackRecord]:
    from sqlmodel import Session, select

    with Session(store.engine) as session:
        return list(session.exec(select(FeedbackRecord)).all())


PII_COMMENT = (
    "The agent was rude. Reach me at maria.gonzalez@example.org or +1 (415) 555-0132, and refund card "
    "4539 1488 0343 6467 please"
)
PII_FRAGMENTS = ["maria.gonzalez", "example.org", "555-0132", "(415)", "4539 1488", "0343 6467", "4539148803436467"]


def test_pii_never_reaches_the_store_the_topics_or_the_log(broker, sqlite_url, tmp_path):
    messages = [(topic, raw) for topic, raw, _ in valid_messages(60, seed=3)]
    pii_docs = [survey(10_000 + i, comment=PII_COMMENT, agent_id="a-pii") for i in range(40)]
    messages += [(SURVEY_TOPIC, encode(d)) for d in pii_docs]
    worker = WorkerProcess(
        worker_env(broker.bootstrap_servers, sqlite_url, tmp_path, LOG_LEVEL="DEBUG"), tmp_path / "worker.log"
    )
    try:
        produce(broker.bootstrap_servers, messages)
        store = InsightStore.from_url(sqlite_url)
        wait_until(lambda: store.count(FeedbackRecord) >= 100, timeout=300, worker=worker, what="100 rows")
    finally:
        worker.stop()

    row = store.get_feedback("s-10000")
    assert row is not None and "[EMAIL]" in row.text and "[PHONE]" in row.text and "[CARD]" in row.text
    texts = " ".join(r.text for r in _all_rows(store))
    outputs = {
        "store": texts,
        "assignments": json.dumps(read_json_topic(broker.bootstrap_servers, "cx.theme-assignments", partitions=4)),
        "themes": json.dumps(read_json_topic(broker.bootstrap_servers, "cx.themes")),
        "alerts": json.dumps(read_json_topic(broker.bootstrap_servers, "cx.alerts")),
        "log": worker.log_text(),
    }
    for where, content in outputs.items():
        for fragment in PII_FRAGMENTS:
            assert fragment not in content, f"{fragment!r} leaked into the {where}"
