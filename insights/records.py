"""Incoming feedback: parse bytes from a topic into a validated, redacted :class:`Feedback`, or say why not.

Every input ends as exactly one of two things: a Feedback, or an :class:`InvalidFeedback` whose reason goes
to the dead-letter topic with the original bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from insights.redact import redact
from insights.schemas import first_error

Kind = Literal["survey", "review"]
SUPPORTED_SCHEMA_VERSIONS = (1,)
DIMENSION_FIELDS = ("agent_id", "team", "journey_stage", "channel")


class InvalidFeedback(ValueError):
    """A message that cannot be accepted; ``error_type`` matches the dead-letter schema's enum."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


@dataclass(slots=True)
class Feedback:
    """One accepted feedback item, already redacted: what the store keeps and the model embeds."""

    feedback_id: str
    kind: Kind
    text: str
    event_time: datetime
    score: float | None = None
    score_type: str | None = None
    agent_id: str | None = None
    team: str | None = None
    journey_stage: str | None = None
    channel: str | None = None
    customer_id: str | None = None
    ticket_id: str | None = None
    source: str | None = None
    product: str | None = None
    language: str | None = None
    truncated: bool = False
    extra_dimensions: dict[str, str] = field(default_factory=dict)
    source_topic: str | None = None  # where it came from: the trend watermark follows each input partition
    source_partition: int | None = None

    @property
    def dimensions(self) -> dict[str, str]:
        """The slice dimensions that are set (agent_id, team, journey_stage, channel, user-mapped ones)."""
        dims = {name: getattr(self, name) for name in DIMENSION_FIELDS if getattr(self, name)}
        dims.update(self.extra_dimensions)
        return dims


def parse_time(value: str) -> datetime:
    """RFC 3339 to an aware UTC datetime; a time without zone is rejected (event time must be unambiguous)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; send RFC 3339 such as 2024-05-01T10:00:00Z")
    return parsed.astimezone(UTC)


def decode_json(raw: bytes, max_bytes: int) -> Any:
    """Bytes to a JSON value, with the size, encoding and syntax errors told apart."""
    if len(raw) > max_bytes:
        raise InvalidFeedback(
            "too_large",
            f"message is {len(raw)} bytes; the limit is {max_bytes} (MAX_MESSAGE_BYTES). Shorten the text "
            "or raise the limit.",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidFeedback("invalid_encoding", f"message is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} col {exc.colno}"
        raise InvalidFeedback("invalid_json", f"message is not JSON: {exc.msg} at {where}") from exc
    except RecursionError as exc:
        raise InvalidFeedback("invalid_json", "message is nested too deeply to be feedback") from exc
    except ValueError as exc:  # e.g. an integer of thousands of digits, NaN / Infinity
        raise InvalidFeedback("invalid_json", f"message is not acceptable JSON: {str(exc)[:200]}") from exc


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259); Python's parser accepts them unless told not to."""
    raise ValueError(f"{name} is not a JSON number")


def _unstorable(value: Any) -> str | None:
    """Why a string cannot be stored or re-encoded (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (invalid Unicode)"
    return None


def clean_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Whitespace runs as one space, cut to ``max_chars``; and whether it was cut."""
    text = " ".join(text.split())
    if len(text) > max_chars:
        return text[:max_chars].rstrip(), True  # a cut that lands on a space must not leave it at the end
    return text, False


def parse_feedback(kind: Kind, raw: bytes, *, max_bytes: int = 256_000, max_chars: int = 5_000) -> Feedback:
    """Validate a survey response or a review against its JSON Schema and return it redacted.

    Raises InvalidFeedback with a reason a producer can act on.
    """
    doc = decode_json(raw, max_bytes)
    if not isinstance(doc, dict):
        raise InvalidFeedback("schema_violation", f"message must be a JSON object, got {type(doc).__name__}")
    version = doc.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS or isinstance(version, bool):
        raise InvalidFeedback(
            "unsupported_schema_version",
            f"schema_version {version!r} is not supported (supported: {list(SUPPORTED_SCHEMA_VERSIONS)}); "
            "see schemas/ for the message formats",
        )
    schema = "survey_response" if kind == "survey" else "review"
    problem = first_error(schema, doc, version)
    if problem is not None:
        raise InvalidFeedback("schema_violation", f"{schema} v{version}: {problem}")
    for name, value in doc.items():
        why = _unstorable(value) if isinstance(value, str) else None
        if why:
            raise InvalidFeedback("invalid_value", f"{name} {why}; send valid UTF-8 text")
    try:
        event_time = parse_time(doc["responded_at" if kind == "survey" else "published_at"])
    except (ValueError, OverflowError) as exc:
        raise InvalidFeedback("invalid_value", f"bad event time: {exc}") from exc

    if kind == "survey":
        text, truncated = clean_text(doc["comment"], max_chars)
        feedback_id, score, score_type, source = doc["response_id"], float(doc["score"]), doc["survey_type"], None
    else:
        title = (doc.get("title") or "").strip()
        body = doc["body"]
        combined = f"{title}. {body}" if title and not body.startswith(title) else body
        text, truncated = clean_text(combined, max_chars)
        feedback_id, score, score_type, source = doc["review_id"], float(doc["rating"]), "rating", doc["source"]
    if not text:
        raise InvalidFeedback("invalid_value", "the feedback text is empty after trimming white space")
    channel = doc.get("channel") or (source if kind == "review" else None)
    return Feedback(
        feedback_id=feedback_id,
        kind=kind,
        text=redact(text),
        event_time=event_time,
        score=score,
        score_type=score_type,
        agent_id=doc.get("agent_id"),
        team=doc.get("team"),
        journey_stage=doc.get("journey_stage"),
        channel=channel,
        customer_id=doc.get("customer_id"),
        ticket_id=doc.get("ticket_id"),
        source=source,
        product=doc.get("product"),
        language=doc.get("language"),
        truncated=truncated,
    )
