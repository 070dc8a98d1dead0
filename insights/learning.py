"""Theme learning in one place: the registry must have one writer so theme ids agree across workers.

Every worker embeds and assigns its own partitions; what it saw goes (with its embedding) to one learner,
which feeds the theme model's ``partial_fit``, stores and announces lineage events, and re-assigns earlier
outliers that a discovery round has placed. In a replay or a single process the learner runs in-line; in
the stream it sits behind a one-partition topic, so exactly one worker runs it at a time.
"""

from __future__ import annotations

import base64
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from insights.retry import call_with_retry
from insights.store import InsightStore

log = logging.getLogger(__name__)

MAX_PENDING = 50_000


def encode_embedding(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


@dataclass
class LearnResult:
    theme_events: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)  # re-assignments (revision 1)


class ThemeLearner:
    """Feeds the theme model and turns what it learned into lineage events and re-assignments."""

    def __init__(self, themes: Any, store: InsightStore | None, max_pending: int | None = None) -> None:
        """``max_pending``: unassigned items remembered for re-assignment; by default as many as the theme
        model's outlier buffer holds, since an item that has left that buffer can no longer be placed."""
        self.themes = themes
        self.store = store
        self.max_pending = max_pending if max_pending is not None else getattr(themes, "buffer_size", MAX_PENDING)
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()  # unassigned, by feedback id

    def seed(self, texts: Sequence[str], embeddings: np.ndarray) -> LearnResult:
        """Discover themes in history before the stream starts (``insights seed``, a replay's first part)."""
        self.themes.fit(list(texts), embeddings)
        result = LearnResult(theme_events=self._event_messages())
        self._store(result)
        return result

    def learn(self, items: Sequence[dict[str, Any]]) -> LearnResult:
        """``items``: assignment messages with an ``embedding`` (base64 float32) field."""
        result = LearnResult()
        if not items:
            return result
        texts = [i["text"] for i in items]
        embeddings = np.vstack([decode_embedding(i["embedding"]) for i in items])
        caught_up = self._caught_up(items, texts, embeddings)
        for item in items:
            if item.get("theme_id") is None and item["feedback_id"] not in caught_up:
                self._pending[item["feedback_id"]] = {k: v for k, v in item.items() if k != "embedding"}
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
        self.themes.partial_fit(texts, embeddings, ids=[i["feedback_id"] for i in items])
        result.theme_events = self._event_messages()
        result.assignments = list(caught_up.values()) + self._resolved()
        self._store(result)
        return result

    def merged_themes(self) -> dict[str, str]:
        """Every merge the learner's registry knows: absorbed id -> the theme that absorbed it, oldest first.

        Safe to call from another thread while the learner runs: copying a dict of strings is one step under
        CPython's interpreter lock, so a copy never sees a half-applied change.
        """
        registry = getattr(self.themes, "registry", None)
        return dict(registry.redirect) if registry is not None else {}

    def catch_up(self) -> LearnResult:
        """Re-assign remembered unassigned items that themes read from cx.themes since now fit (see
        ``ThemeModel.place_buffered``). :meth:`learn` does it with every batch; the stream also calls this on a
        timer, so items taken before a seed was read get their theme even when no more feedback comes."""
        result = LearnResult()
        if self.themes.place_buffered():
            result.assignments = self._resolved()
            self._store(result)
        return result

    def _event_messages(self) -> list[dict[str, Any]]:
        """The lineage events the model produced since last asked, as cx.themes messages."""
        return [e.to_message() if hasattr(e, "to_message") else dict(e) for e in self.themes.pop_events()]

    def _store(self, result: LearnResult) -> None:
        """Lineage events and re-assignments into the store (when there is one), retried through outages."""
        if self.store is None:
            return
        if result.theme_events:
            call_with_retry(self.store.apply_theme_events, result.theme_events)
        if result.assignments:
            call_with_retry(self.store.update_assignments, result.assignments)

    def _caught_up(
        self, items: Sequence[dict[str, Any]], texts: list[str], embeddings: np.ndarray
    ) -> dict[str, dict[str, Any]]:
        """Unassigned items that a theme the learner already has fits, as re-assignments by feedback id.

        A worker that has not yet read the newest cx.themes events (it just started, or the registry was just
        seeded) leaves items unassigned that the learner's registry places at once; waiting for a discovery
        round would leave them without a theme for a long time. Items the learner itself could not place yet
        wait in the model's buffer until it reads the themes (:meth:`catch_up`).
        """
        rows = [k for k, item in enumerate(items) if item.get("theme_id") is None]
        if not rows:
            return {}
        now = datetime.now(UTC).isoformat()
        predictions = self.themes.predict([texts[k] for k in rows], embeddings[rows])
        return {
            items[k]["feedback_id"]: _reassignment({i: v for i, v in items[k].items() if i != "embedding"}, pred, now)
            for k, pred in zip(rows, predictions, strict=True)
            if pred.theme_id is not None
        }

    def _resolved(self) -> list[dict[str, Any]]:
        """Earlier outliers that a discovery round placed, as new assignment messages (revision 1)."""
        messages = []
        now = datetime.now(UTC).isoformat()
        for feedback_id, pred in self.themes.pop_resolved():
            earlier = self._pending.pop(feedback_id, None)
            if earlier is None or pred.theme_id is None:
                continue
            messages.append(_reassignment(earlier, pred, now))
        return messages


def _reassignment(earlier: dict[str, Any], pred: Any, now: str) -> dict[str, Any]:
    """A new revision of an assignment message, placing a formerly unassigned item in ``pred``'s theme."""
    return {
        **earlier,
        "theme_id": pred.theme_id,
        "coarse_theme_id": getattr(pred, "coarse_theme_id", None),
        "coarse_theme_label": getattr(pred, "coarse_theme_label", None),
        "theme_label": pred.theme_label,
        "empathy_category": pred.empathy_category,
        "theme_empathy_category": getattr(pred, "theme_empathy_category", None),
        "similarity": float(pred.similarity),
        "previous_theme_id": None,
        "revision": int(earlier.get("revision") or 0) + 1,
        "assigned_at": now,
    }
