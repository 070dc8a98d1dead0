"""What the learner keeps per theme, in bounded memory, to keep a theme current without its feedback.

A running sum of member embeddings (the centroid), term counts for keywords (pruned), a small pool of
candidate quotes, empathy counts, and a reservoir sample of member embeddings for split checks. Nothing here
grows with the number of members.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from insights.themes.keywords import count_terms, prune
from insights.themes.types import decode_array, encode_array

QUOTE_POOL = 12


def reservoir_slot(filled: int, size: int, seen: int, rng: np.random.Generator) -> int | None:
    """Algorithm R: the slot for the ``seen``-th item offered to a reservoir of ``size`` holding ``filled``, or
    None when it is not kept. Every item offered so far ends up in the reservoir with the same chance."""
    if filled < size:
        return filled
    slot = int(rng.integers(0, seen))
    return slot if slot < size else None


@dataclass
class ThemeStats:
    """Sufficient statistics of one fine theme."""

    vec_sum: np.ndarray
    count: int = 0
    terms: Counter[str] = field(default_factory=Counter)
    quote_pool: list[tuple[float, str]] = field(default_factory=list)
    empathy: Counter[str] = field(default_factory=Counter)
    reservoir: np.ndarray | None = None
    reservoir_seen: int = 0
    last_seen: int = 0
    published_size: int = 0
    checked_size: int = 0

    @classmethod
    def empty(cls, dim: int) -> ThemeStats:
        return cls(vec_sum=np.zeros(dim, dtype=np.float64))

    @property
    def centroid(self) -> np.ndarray:
        norm = np.linalg.norm(self.vec_sum)
        return (self.vec_sum / norm).astype(np.float32) if norm > 0 else self.vec_sum.astype(np.float32)

    def add(
        self,
        x: np.ndarray,
        texts: Sequence[str],
        sims: np.ndarray,
        empathy: Sequence[str | None],
        seen: int,
        rng: np.random.Generator,
        reservoir_size: int,
    ) -> None:
        """Absorb members: embeddings ``x`` (rows), their texts, similarity to the theme and empathy category."""
        if len(x) == 0:
            return
        self.vec_sum += np.asarray(x, dtype=np.float64).sum(axis=0)
        self.count += len(x)
        self.terms.update(count_terms(texts))
        self.terms = prune(self.terms)
        self.empathy.update(c or "" for c in empathy)
        self._offer_quotes(texts, sims)
        self._sample(np.asarray(x, dtype=np.float32), rng, reservoir_size)
        self.last_seen = seen

    def _offer_quotes(self, texts: Sequence[str], sims: np.ndarray) -> None:
        known = {t.lower() for _, t in self.quote_pool}
        for t, s in zip(texts, np.asarray(sims, dtype=float), strict=True):
            t = " ".join(t.split())
            if t and t.lower() not in known:
                self.quote_pool.append((float(s), t))
                known.add(t.lower())
        self.quote_pool.sort(key=lambda q: -q[0])
        del self.quote_pool[QUOTE_POOL:]

    def _sample(self, x: np.ndarray, rng: np.random.Generator, size: int) -> None:
        """Reservoir sampling (Algorithm R): a uniform sample of all members ever seen."""
        if size <= 0:
            return
        if self.reservoir is None:
            self.reservoir = np.zeros((0, x.shape[1]), dtype=np.float16)
        for row in x:
            self.reservoir_seen += 1
            slot = reservoir_slot(len(self.reservoir), size, self.reservoir_seen, rng)
            if slot == len(self.reservoir):
                self.reservoir = np.vstack([self.reservoir, row.astype(np.float16)[None]])
            elif slot is not None:
                self.reservoir[slot] = row.astype(np.float16)

    def merge_from(self, other: ThemeStats) -> None:
        """Fold another theme's statistics into this one (a merge)."""
        self.vec_sum += other.vec_sum
        self.count += other.count
        self.terms = prune(self.terms + other.terms)
        self.empathy += other.empathy
        self.quote_pool = sorted(self.quote_pool + other.quote_pool, key=lambda q: -q[0])[:QUOTE_POOL]
        self.last_seen = max(self.last_seen, other.last_seen)

    def empathy_share(self) -> tuple[str | None, float]:
        """The most frequent empathy category among members and its share of all members."""
        total = sum(self.empathy.values())
        cats = [(c, n) for c, n in self.empathy.items() if c]
        if not total or not cats:
            return None, 0.0
        cat, n = max(cats, key=lambda t: (t[1], t[0]))
        return cat, n / total

    def to_state(self) -> dict[str, Any]:
        return {
            "vec_sum": encode_array(self.vec_sum.astype(np.float32)),
            "count": self.count,
            "terms": dict(self.terms),
            "quote_pool": [[s, t] for s, t in self.quote_pool],
            "empathy": dict(self.empathy),
            "reservoir": None if self.reservoir is None else encode_array(self.reservoir.astype(np.float32)),
            "reservoir_shape": None if self.reservoir is None else list(self.reservoir.shape),
            "reservoir_seen": self.reservoir_seen,
            "last_seen": self.last_seen,
            "published_size": self.published_size,
            "checked_size": self.checked_size,
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> ThemeStats:
        reservoir = None
        if d.get("reservoir") is not None:
            reservoir = decode_array(d["reservoir"], tuple(d["reservoir_shape"])).astype(np.float16)
        return cls(
            vec_sum=decode_array(d["vec_sum"]).astype(np.float64),
            count=int(d["count"]),
            terms=Counter(d.get("terms") or {}),
            quote_pool=[(float(s), str(t)) for s, t in d.get("quote_pool") or []],
            empathy=Counter(d.get("empathy") or {}),
            reservoir=reservoir,
            reservoir_seen=int(d.get("reservoir_seen") or 0),
            last_seen=int(d.get("last_seen") or 0),
            published_size=int(d.get("published_size") or 0),
            checked_size=int(d.get("checked_size") or 0),
        )
