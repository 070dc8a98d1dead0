"""Reading cx.themes lineage messages (schemas/theme_event.v1.json) where the theme model is not loaded: the store
and the trend counts follow merges without importing it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def merges(messages: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(absorbed, survivor)`` of each merge among the messages, in their order (so a chain ends in its last)."""
    return [(m["theme_id"], m["related_theme_ids"][0]) for m in messages
            if (m.get("theme") or {}).get("status") == "merged" and m.get("related_theme_ids")]


def survivor(redirect: Mapping[str, str], theme_id: str) -> str:
    """Where ``theme_id`` ends when its merges are followed (a into b, b into c: c)."""
    seen = {theme_id}
    while theme_id in redirect and redirect[theme_id] not in seen:  # ids are never reused; guard anyway
        theme_id = redirect[theme_id]
        seen.add(theme_id)
    return theme_id


def unapplied_merges(known: Mapping[str, str], applied: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(absorbed, survivor)`` of the merges in ``known`` (absorbed -> the theme that absorbed it, in the order
    they happened, as a registry follows them) whose end ``applied`` (the same kind of map) does not give yet."""
    return [(a, s) for a, s in known.items() if applied.get(a) != survivor(known, a)]
