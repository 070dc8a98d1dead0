"""Valid and broken input messages for tests, in the wire format of schemas/."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

BASE_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def survey(i: int, comment: str = "The agent was friendly and solved it fast", **overrides) -> dict:
    doc = {
        "schema_version": 1,
        "response_id": f"s-{i}",
        "survey_type": "csat",
        "score": 1 + i % 5,
        "comment": comment,
        "agent_id": f"a-{i % 7}",
        "team": f"team-{i % 3}",
        "journey_stage": ["onboarding", "billing", "support", "delivery"][i % 4],
        "channel": ["phone", "chat", "email"][i % 3],
        "customer_id": f"c-{i}",
        "ticket_id": f"T{i:06d}",
        "responded_at": (BASE_TIME + timedelta(minutes=i)).isoformat(),
        "language": "en",
    }
    doc.update(overrides)
    return doc


def review(i: int, body: str = "Delivery was late again and nobody told me why", **overrides) -> dict:
    doc = {
        "schema_version": 1,
        "review_id": f"r-{i}",
        "source": "app_store",
        "rating": 1 + i % 5,
        "title": "Late",
        "body": body,
        "product": "mobile-app",
        "agent_id": None,
        "journey_stage": "delivery",
        "published_at": (BASE_TIME + timedelta(minutes=i)).isoformat(),
    }
    doc.update(overrides)
    return doc


def theme_event(theme_id: str, event_type: str = "update", status: str = "active", related: list[str] | None = None,
                *, parent_id: str | None = None, level: str = "fine", label: str | None = None, n: int = 0) -> dict:
    """A cx.themes message (schemas/theme_event.v1.json) with a small theme snapshot; ``n`` tells apart events of
    one type on one theme."""
    return {"schema_version": 1, "event_id": f"{theme_id}-{event_type}-{n}", "event_type": event_type,
            "theme_id": theme_id, "related_theme_ids": related or [], "at": "2026-03-02T10:00:00+00:00",
            "theme": {"theme_id": theme_id, "label": label or theme_id, "keywords": [], "quotes": [], "size": 3,
                      "level": level, "status": status, "parent_id": parent_id}}


def coarse_group(coarse_id: str, members: list[str]) -> list[dict]:
    """Theme events making ``coarse_id`` the coarse parent of ``members`` (labels: "<id> label")."""
    return [theme_event(coarse_id, level="coarse", label=f"{coarse_id} label")] + [
        theme_event(t, parent_id=coarse_id, label=f"{t} label") for t in members]


def encode(doc: dict) -> bytes:
    return json.dumps(doc).encode("utf-8")


def broken_messages() -> list[tuple[str, bytes, str]]:
    """(kind, bytes, what is wrong): 20 messages the service must dead-letter with a reason."""
    huge = survey(900_001, comment="x" * 1_000_000)
    cases: list[tuple[str, bytes, str]] = [
        ("survey", b"{not json", "invalid_json"),
        ("survey", b"", "invalid_json"),
        ("survey", b"\xff\xfe\x00garbage", "invalid_encoding"),
        ("review", "caf\u00e9".encode("latin-1"), "invalid_encoding"),
        ("survey", encode({k: v for k, v in survey(900_002).items() if k != "comment"}), "schema_violation"),
        ("review", encode({k: v for k, v in review(900_003).items() if k != "body"}), "schema_violation"),
        ("survey", encode(survey(900_004, comment="")), "schema_violation"),
        ("survey", encode(survey(900_005, score="five")), "schema_violation"),
        ("survey", encode(survey(900_006, response_id=12345)), "schema_violation"),
        ("review", encode(review(900_007, rating=[5])), "schema_violation"),
        ("survey", encode(survey(900_008, schema_version=2)), "unsupported_schema_version"),
        ("review", encode(review(900_009, schema_version="1")), "unsupported_schema_version"),
        (
            "survey",
            encode({k: v for k, v in survey(900_010).items() if k != "schema_version"}),
            "unsupported_schema_version",
        ),
        ("survey", encode(huge), "too_large"),
        ("survey", encode(survey(900_011, responded_at="yesterday")), "schema_violation"),
        ("survey", encode(survey(900_012, responded_at="2026-03-02T10:00:00")), "schema_violation"),
        ("survey", encode(survey(900_013, score=11, survey_type="nps")), "schema_violation"),
        ("survey", b"[1, 2, 3]", "schema_violation"),
        ("review", b"null", "schema_violation"),
        ("survey", encode(survey(900_014, comment="   ")), "invalid_value"),
    ]
    assert len(cases) == 20
    return cases
