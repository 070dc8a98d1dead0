"""Parsing and validation of incoming messages: each input is accepted or rejected with a reason."""

from __future__ import annotations

import pytest

from insights.records import InvalidFeedback, parse_feedback
from tests.messages import broken_messages, encode, review, survey


def test_valid_survey_is_parsed_with_its_dimensions() -> None:
    fb = parse_feedback("survey", encode(survey(3)))
    assert fb.feedback_id == "s-3"
    assert fb.score == 4.0 and fb.score_type == "csat"
    assert fb.dimensions == {"agent_id": "a-3", "team": "team-0", "journey_stage": "delivery", "channel": "phone"}
    assert fb.event_time.tzinfo is not None


def test_review_text_joins_title_and_body_and_uses_source_as_channel() -> None:
    fb = parse_feedback("review", encode(review(1)))
    assert fb.text == "Late. Delivery was late again and nobody told me why"
    assert fb.channel == "app_store"
    assert fb.score_type == "rating"


@pytest.mark.parametrize(("kind", "raw", "error_type"), broken_messages())
def test_broken_messages_are_rejected_with_a_reason(kind: str, raw: bytes, error_type: str) -> None:
    with pytest.raises(InvalidFeedback) as info:
        parse_feedback(kind, raw, max_bytes=256_000)
    assert info.value.error_type == error_type
    assert len(info.value.reason) > 10


def test_long_text_is_truncated_not_rejected() -> None:
    fb = parse_feedback("survey", encode(survey(1, comment="word " * 3000)), max_chars=1000)
    assert fb.truncated and fb.text == ("word " * 200).strip()  # the cut lands on a space: not kept at the end


def test_pii_is_redacted_at_parse_time() -> None:
    comment = "Email me at jane.doe@example.com or call +44 20 7946 0958, card 4111 1111 1111 1111"
    fb = parse_feedback("survey", encode(survey(1, comment=comment)))
    assert "jane.doe" not in fb.text and "7946" not in fb.text and "4111" not in fb.text
