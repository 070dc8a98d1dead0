"""What the learner keeps per theme, in bounded memory, to keep a theme current without its feedback.

A running sum of member embeddings (the centroid), term counts for keywords (pruned), a small pool of
candidate quotes, empathy counts, and a reservoir sample of members (embedding and text) for split checks: the
texts give the two halves of a split their own keywords and quotes. Nothing here grows with the number of
members.
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
RESERVOIR_TEXT_CHARS = 300  # a sampled member's text is kept for keywords and quotes, not as an archive


def _quote_key(text: str) -> str:
    """What makes two quotes the same one: case and spacing aside."""
    return " ".join(text.split()).lower()


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
    reservoir_texts: list[str] = field(default_factory=list)
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
        self._sample(np.asarray(x, dtype=np.float32), texts, rng, reservoir_size)
        self.last_seen = seen

    def _offer_quotes(self, texts: Sequence[str], sims: np.ndarray) -> None:
        known = {_quote_key(t) for _, t in self.quote_pool}
        for t, s in zip(texts, np.asarray(sims, dtype=float), strict=True):
            t, key = " ".join(t.split()), _quote_key(t)
            if t and key not in known:
                self.quote_pool.append((float(s), t))
                known.add(key)
        self.quote_pool.sort(key=lambda q: -q[0])
        del self.quote_pool[QUOTE_POOL:]

    def _sample(self, x: np.ndarray, texts: Sequence[str], rng: np.random.Generator, size: int) -> None:
        """Reservoir sampling (Algorithm R): a uniform sample of all members ever seen."""
        if size <= 0:
            return
        if self.reservoir is None:
            self.reservoir = np.zeros((0, x.shape[1]), dtype=np.float16)
        self.reservoir_texts = self._aligned_texts()
        for row, text in zip(x, texts, strict=True):
            self.reservoir_seen += 1
            slot = reservoir_slot(len(self.reservoir), size, self.reservoir_seen, rng)
            if slot == len(self.reservoir):
                self.reservoir = np.vstack([self.reservoir, row.astype(np.float16)[None]])
                self.reservoir_texts.append(text[:RESERVOIR_TEXT_CHARS])
            elif slot is not None:
                self.reservoir[slot] = row.astype(np.float16)
                self.reservoir_texts[slot] = text[:RESERVOIR_TEXT_CHARS]

    def _aligned_texts(self) -> list[str]:
        """The sampled members' texts, row for row with the reservoir (blank for a state saved before texts
        were kept)."""
        n = 0 if self.reservoir is None else len(self.reservoir)
        return self.reservoir_texts if len(self.reservoir_texts) == n else [""] * n

    def keep_reservoir(self, keep: np.ndarray) -> None:
        """Keep only the sampled members in mask ``keep`` (the others left with a split)."""
        if self.reservoir is None:
            return
        texts = self._aligned_texts()
        self.reservoir = self.reservoir[keep]
        self.reservoir_texts = [t for t, k in zip(texts, keep, strict=True) if k]

    def drop_quotes(self, texts: Sequence[str]) -> None:
        """Forget candidate quotes that are among ``texts`` (members that left with a split)."""
        gone = {_quote_key(t) for t in texts}
        self.quote_pool = [q for q in self.quote_pool if _quote_key(q[1]) not in gone]

    def split_off(self, part: np.ndarray, moved: int, seen: int, empathy: Sequence[str | None]) -> ThemeStats:
        """Carve the members sampled in reservoir rows ``part`` (a mask) out as a new theme of ``moved`` members.

        Only the reservoir knows which members went which way, so it speaks for all of them: the new theme's
        terms and empathy counts are those of its sampled rows (``empathy``: their categories) scaled to
        ``moved`` members, and they leave this theme's counts; quotes and sampled rows follow their side. Without
        this both halves kept the old terms, so the new theme was born with its parent's label.
        """
        assert self.reservoir is not None
        rows = np.flatnonzero(part)
        texts = self._aligned_texts()
        part_texts = [texts[i] for i in rows]
        sample = self.reservoir[rows].astype(np.float32)
        centroid = sample.mean(axis=0).astype(np.float64)
        centroid /= np.linalg.norm(centroid) or 1.0
        scale = moved / max(len(rows), 1)
        terms = Counter({t: max(1, round(c * scale)) for t, c in count_terms(part_texts).items()})
        empathy_counts = Counter({c: max(1, round(n * scale)) for c, n in Counter(c or "" for c in empathy).items()})
        child = ThemeStats(vec_sum=centroid * moved, count=moved, terms=prune(terms), empathy=empathy_counts,
                           last_seen=seen, published_size=moved, checked_size=moved)
        child.reservoir, child.reservoir_texts, child.reservoir_seen = self.reservoir[rows], part_texts, len(rows)
        child._offer_quotes([t for t in part_texts if t], sample[[i for i, t in enumerate(part_texts) if t]] @ centroid)
        self.vec_sum = self.vec_sum - child.vec_sum
        self.count -= moved
        self.terms = prune(self.terms - terms)
        self.empathy = self.empathy - empathy_counts
        self.drop_quotes(part_texts)
        self.keep_reservoir(~part)
        self.checked_size = self.count
        return child

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
            "reservoir_texts": list(self.reservoir_texts),
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
            reservoir_texts=[str(t) for t in d.get("reservoir_texts") or []],
            reservoir_seen=int(d.get("reservoir_seen") or 0),
            last_seen=int(d.get("last_seen") or 0),
            published_size=int(d.get("published_size") or 0),
            checked_size=int(d.get("checked_size") or 0),
        )
