"""Hostile input at the parsers: arbitrary bytes, arbitrary JSON and near-valid documents with mutated fields.

The contract (insights/records.py, insights/pipeline.py): every message ends as exactly one of an accepted,
redacted Feedback or a dead letter with a non-empty reason and the original bytes (at most
``ORIGINAL_MAX_BYTES``, with the size and SHA-256 of the whole); the worker never sees an exception from a
message; a message over MAX_MESSAGE_BYTES is rejected as ``too_large`` before it is decoded.

``parse_feedback`` itself promises to raise only InvalidFeedback. Inputs found to break a promise are kept below
(they were strict xfails naming the bug until the parser was fixed).
"""

from __future__ import annotations

import hashlib
import json
import math
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import fastjsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import best_match

from insights.dead_letter import ORIGINAL_MAX_BYTES, original_bytes
from insights.pipeline import FeedbackProcessor, RawMessage
from insights.records import Feedback, InvalidFeedback, parse_feedback
from insights.schemas import compiled_check, first_error, validator
from tests.messages import encode, review, survey

TOPICS = {"survey": "cx.feedback.survey", "review": "cx.feedback.review"}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.data_too_large])


class _Prediction:
    theme_id = "t-1"
    coarse_theme_id = None
    theme_label = "a theme"
    empathy_category = None
    similarity = 0.5


class _Themes:
    def predict(self, texts, embeddings=None):
        return [_Prediction() for _ in texts]


class _Embedder:
    def encode(self, texts):
        return np.zeros((len(texts), 8), dtype=np.float32)


PROCESSOR = FeedbackProcessor(None, _Embedder(), _Themes(), max_message_bytes=64 * 1024, max_text_chars=500)

# -- strategies ------------------------------------------------------------------------------------------------
json_scalars = (st.none() | st.booleans() | st.integers(-(10**20), 10**20)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)
kinds = st.sampled_from(["survey", "review"])
# years 1 and 9999 with an offset are tested below (they overflow UTC)
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=13))]))


@st.composite
def near_valid(draw) -> tuple[str, bytes]:
    """A valid survey or review with a few fields dropped, retyped, emptied or replaced by arbitrary values."""
    kind = draw(kinds)
    i = draw(st.integers(0, 10_000))
    doc: dict[str, Any] = survey(i) if kind == "survey" else review(i)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(doc)) | st.text(max_size=10))
        action = draw(st.sampled_from(["drop", "value", "text", "time", "number", "empty", "long"]))
        if action == "drop":
            doc.pop(key, None)
        elif action == "value":
            doc[key] = draw(json_values)
        elif action == "text":
            doc[key] = draw(st.text(max_size=300))
        elif action == "time":
            doc[key] = draw(times).isoformat()
        elif action == "number":
            doc[key] = draw(st.integers(-100, 100) | st.floats(-1e6, 1e6, allow_nan=False))
        elif action == "empty":
            doc[key] = ""
        else:
            doc[key] = draw(st.text(min_size=1, max_size=5)) * draw(st.integers(100, 3_000))
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8")
    if draw(st.integers(0, 9)) == 0:  # sometimes cut or corrupt the encoded document as well
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=4))
    return kind, raw


arbitrary_json = st.tuples(kinds, json_values.map(lambda v: json.dumps(v).encode("utf-8")))
arbitrary_bytes = st.tuples(kinds, st.binary(max_size=2_000))
any_message = arbitrary_bytes | arbitrary_json | near_valid()


# -- properties ------------------------------------------------------------------------------------------------
def _check_accepted(fb: Feedback, max_chars: int) -> None:
    assert isinstance(fb, Feedback)
    assert fb.kind in ("survey", "review")
    assert fb.feedback_id and isinstance(fb.feedback_id, str)
    assert fb.text and fb.text == fb.text.strip() and len(fb.text) <= max_chars + 64  # placeholders may lengthen
    assert fb.event_time.tzinfo is not None and fb.event_time.utcoffset().total_seconds() == 0
    assert fb.score is None or isinstance(fb.score, float)


def _check_dead_letter(letter: dict[str, Any], raw: bytes) -> None:
    assert letter["reason"] and letter["reason"].strip()
    assert first_error("dead_letter", letter) is None, first_error("dead_letter", letter)
    kept = original_bytes(letter)
    assert len(kept) <= ORIGINAL_MAX_BYTES and raw.startswith(kept)
    assert letter["original_size"] == len(raw)
    assert letter["original_sha256"] == hashlib.sha256(raw).hexdigest()
    assert letter["original_truncated"] == (len(kept) < len(raw))


@FUZZ
@given(message=any_message)
@example(message=("survey", b""))
@example(message=("review", b"null"))
@example(message=("survey", b"\xef\xbb\xbf{}"))  # a UTF-8 byte-order mark
@example(message=("survey", encode(survey(1, comment="\u200b\u00a0 \t"))))
def test_parse_feedback_accepts_or_explains(message: tuple[str, bytes]) -> None:
    kind, raw = message
    try:
        fb = parse_feedback(kind, raw, max_bytes=64 * 1024, max_chars=500)  # type: ignore[arg-type]
    except InvalidFeedback as exc:
        assert exc.reason and exc.reason.strip()
        assert first_error("dead_letter", {
            "schema_version": 1, "reason": exc.reason, "error_type": exc.error_type, "source_topic": "t",
            "original_base64": "", "original_size": 0, "original_sha256": "0" * 64, "original_truncated": False,
            "dead_lettered_at": "2026-01-01T00:00:00+00:00",
        }) is None, f"error_type {exc.error_type!r} is not in the dead-letter schema"
    else:
        _check_accepted(fb, 500)


@FUZZ
@given(batch=st.lists(any_message, min_size=1, max_size=12))
def test_a_batch_reconciles_every_message_is_accepted_or_dead_lettered(batch: list[tuple[str, bytes]]) -> None:
    messages = [RawMessage(kind, raw, TOPICS[kind], key=None, partition=0, offset=n)  # type: ignore[arg-type]
                for n, (kind, raw) in enumerate(batch)]
    result = PROCESSOR.process(messages)  # never raises: that would stop (or dead-letter) a whole batch

    assert len(result.accepted) + len(result.dead_letters) == len(messages)
    assert len(result.assignments) == len(result.accepted)
    dead_offsets = [d["source_offset"] for d in result.dead_letters]
    assert len(set(dead_offsets)) == len(dead_offsets)
    for letter in result.dead_letters:
        _check_dead_letter(letter, messages[letter["source_offset"]].value)
        assert letter["source_topic"] == messages[letter["source_offset"]].topic
    for fb in result.accepted:
        _check_accepted(fb, 500)
    for assignment in result.assignments:
        assert first_error("theme_assignment", assignment) is None


# -- the fast validator and the reference --------------------------------------------------------------------
def _reference_accepts(schema: str, doc: Any) -> bool:
    return best_match(validator(schema).iter_errors(doc)) is None


def _fast_accepts(schema: str, doc: Any) -> bool:
    try:
        compiled_check(schema)(doc)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@FUZZ
@given(message=near_valid())
@example(message=("survey", encode(dict(survey(1), schema_version=True))))  # Python's True == 1
@example(message=("survey", encode(dict(survey(1), schema_version=1.0))))  # JSON's 1.0 is 1
@example(message=("survey", encode(dict(survey(1), responded_at="2024-05-01T00:00:04+0000"))))  # not RFC 3339
@example(message=("review", encode(dict(review(1), rating=False))))
def test_the_fast_validator_accepts_nothing_the_reference_rejects(message: tuple[str, bytes]) -> None:
    """first_error trusts fastjsonschema's "valid" (jsonschema decides the rest): that must never be a pass
    jsonschema would refuse. Both verdicts agree on these documents, in fact, so the fast path changes nothing."""
    kind, raw = message
    try:
        doc = json.loads(raw)
    except ValueError:
        return  # not JSON: rejected before any schema
    schema = "survey_response" if kind == "survey" else "review"
    assert _fast_accepts(schema, doc) == _reference_accepts(schema, doc), doc


# -- oversized bodies -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64 * 1024 + 1, 5 * 1024 * 1024, 20 * 1024 * 1024])
def test_oversized_bodies_are_rejected_before_decoding_and_cut_in_the_dead_letter(size: int) -> None:
    head = encode(survey(1, comment=""))[:-2]
    raw = head + b"x" * (size - len(head) - 2) + b'"}'
    assert len(raw) == size
    message = RawMessage("survey", raw, "cx.feedback.survey", partition=0, offset=0)

    tracemalloc.start()
    try:
        result = PROCESSOR.process([message])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert not result.accepted and len(result.dead_letters) == 1
    letter = result.dead_letters[0]
    assert letter["error_type"] == "too_large"
    assert "MAX_MESSAGE_BYTES" in letter["reason"] and str(size) in letter["reason"]
    _check_dead_letter(letter, raw)
    assert letter["original_truncated"] == (size > ORIGINAL_MAX_BYTES)
    # Never decoded, parsed or copied whole: what it costs is the kept prefix (and its base64), not the body.
    assert peak < 4 * ORIGINAL_MAX_BYTES + 512 * 1024, f"peak {peak:,} bytes for a {size:,}-byte message"


def test_a_long_comment_under_the_byte_limit_is_truncated_and_flagged() -> None:
    fb = parse_feedback("survey", encode(survey(1, comment="the agent was rude " * 2_000)), max_chars=500)
    assert fb.truncated and len(fb.text) == 500
    assert not parse_feedback("survey", encode(survey(1)), max_chars=500).truncated


# -- found by fuzzing: inputs that break a promise (bugs in insights/records.py; see the module docstring) -------
SURROGATE = (b'{"schema_version":1,"response_id":"s-1","survey_type":"csat","score":3,'
             b'"comment":"rude agent \\ud800","responded_at":"2026-01-01T00:00:00Z"}')
NESTED = b"[" * 50_000 + b"]" * 50_000
HUGE_INT = (b'{"schema_version":1,"response_id":"s-1","survey_type":"csat","score":1' + b"0" * 5_000
            + b',"comment":"x","responded_at":"2026-01-01T00:00:00Z"}')
EXTREME_TIMES = ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("raw", [NESTED, HUGE_INT], ids=["deeply-nested", "5000-digit-int"])
def test_parse_feedback_raises_only_invalid_feedback_on_pathological_json(raw: bytes) -> None:
    with pytest.raises(InvalidFeedback):
        parse_feedback("survey", raw)


@pytest.mark.parametrize("when", EXTREME_TIMES)
def test_parse_feedback_rejects_times_that_overflow_utc(when: str) -> None:
    with pytest.raises(InvalidFeedback):
        parse_feedback("survey", encode(survey(1, responded_at=when)))


def test_the_processor_still_dead_letters_pathological_json_with_a_reason() -> None:
    """What protects the worker today: FeedbackProcessor.parse turns any exception into a dead letter."""
    raws = [NESTED, HUGE_INT, *(encode(survey(1, responded_at=w)) for w in EXTREME_TIMES)]
    result = PROCESSOR.process([RawMessage("survey", r, "cx.feedback.survey", offset=n) for n, r in enumerate(raws)])
    assert not result.accepted and len(result.dead_letters) == len(raws)
    for letter in result.dead_letters:
        _check_dead_letter(letter, raws[letter["source_offset"]])


def test_a_nan_score_is_rejected() -> None:
    raw = json.dumps(survey(1, score=float("nan"))).encode()
    assert b"NaN" in raw
    with pytest.raises(InvalidFeedback):
        fb = parse_feedback("survey", raw)
        assert fb.score is not None and math.isfinite(fb.score)


@pytest.mark.parametrize("raw", [SURROGATE, encode(survey(1, comment="rude\u0000agent")),
                                 encode(survey(1, response_id="s-\u0000"))], ids=["surrogate", "nul-text", "nul-id"])
def test_text_the_store_cannot_hold_is_rejected_up_front(raw: bytes) -> None:
    with pytest.raises(InvalidFeedback):
        fb = parse_feedback("survey", raw)
        for value in (fb.feedback_id, fb.text):
            value.encode("utf-8")
            assert "\x00" not in value


def test_a_batch_with_one_unstorable_message_keeps_its_valid_neighbours(database_url: str) -> None:
    """On the real store: five valid messages and one with a lone surrogate; today process() raises, and
    streams/app.py then dead-letters all six (processor.reject) after three attempts."""
    from insights.store import FeedbackRecord, InsightStore

    store = InsightStore.from_url(database_url)
    processor = FeedbackProcessor(store, _Embedder(), _Themes())
    batch = [RawMessage("survey", encode(survey(i)), "cx.feedback.survey", offset=i) for i in range(5)]
    batch.append(RawMessage("survey", SURROGATE, "cx.feedback.survey", offset=5))
    result = processor.process(batch)
    assert len(result.accepted) == 5 and [d["source_offset"] for d in result.dead_letters] == [5]
    assert store.count(FeedbackRecord) == 5
