"""Dead letters: what could not be accepted, why, and the original bytes, so nothing is silently lost.

Rule for large originals: up to ``ORIGINAL_MAX_BYTES`` of the original is kept verbatim; a larger original is
cut to that size and flagged ``original_truncated``, while ``original_size`` and ``original_sha256`` always
describe the whole message, so the producer can find and resend it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

ORIGINAL_MAX_BYTES = 256 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def build_dead_letter(
    original: bytes,
    *,
    reason: str,
    error_type: str,
    source_topic: str,
    source_partition: int | None = None,
    source_offset: int | None = None,
    key: bytes | None = None,
    original_max_bytes: int = ORIGINAL_MAX_BYTES,
) -> dict[str, Any]:
    """A message for cx.dead-letter (schemas/dead_letter.v1.json)."""
    kept = original[:original_max_bytes]
    return {
        "schema_version": 1,
        "reason": reason,
        "error_type": error_type,
        "source_topic": source_topic,
        "source_partition": source_partition,
        "source_offset": source_offset,
        "key_base64": _b64(key) if key is not None else None,
        "original_base64": _b64(kept),
        "original_size": len(original),
        "original_sha256": hashlib.sha256(original).hexdigest(),
        "original_truncated": len(kept) < len(original),
        "dead_lettered_at": datetime.now(UTC).isoformat(),
    }


def original_bytes(dead_letter: dict[str, Any]) -> bytes:
    """The (possibly cut) original message of a dead letter."""
    return base64.b64decode(dead_letter["original_base64"])
