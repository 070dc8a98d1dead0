"""Reading cx.themes lineage messages (schemas/theme_event.v1.json) where the theme model is not loaded: the store
and the trend counts follow merges without importing it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def merges(messages: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(absorbed, survivor)`` of each merge among the messages, in their order (so a chain ends in its last)."""
    return [(m["theme_id"], m["related_theme_ids"][0]) for m in messages
            if (m.get("theme") or {}).get("status") == "merged" and m.get("related_theme_ids")]
