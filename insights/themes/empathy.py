"""The empathy taxonomy, matched by meaning.

Each category is seeded with a description and example complaints (empathy_taxonomy.json), and so is a
"not an empathy problem" class (food, prices, delivery, bugs, wait time, praise, questions). A text is scored
against each class by the mean of its top-3 similarities to that class's seeds, so that one stray seed cannot
decide alone. It gets a category only when that score clears a threshold *and* beats the non-empathy score by
a margin. Both numbers are calibrated, not hand-set: leave-one-out over the seeds picks the pair with the best
F0.5 (precision weighs double: calling a cold-pizza complaint "rude agent" would poison the alerts).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from insights.themes.types import decode_array, encode_array

log = logging.getLogger(__name__)

EMPATHY_CATEGORIES: tuple[str, ...] = ("rude", "robotic", "didnt_listen", "dismissive", "no_follow_up", "rushed")
NONE_CLASS = "__none__"
TOP_M = 3
BETA = 1.0  # F-beta of the calibration; below 1 favours precision


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def load_taxonomy(path: str | Path | None = None) -> dict[str, Any]:
    """The seeded taxonomy (the packaged JSON unless a path is given)."""
    if path is not None:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return json.loads(resources.files("insights.themes").joinpath("empathy_taxonomy.json").read_text("utf-8"))


@dataclass(frozen=True)
class Calibration:
    threshold: float
    margin: float
    f_score: float


class EmpathyMatcher:
    """Classify embeddings into an empathy category (or None), by similarity to seeded examples."""

    def __init__(
        self,
        embedder: TextEncoder | None = None,
        taxonomy: dict[str, Any] | None = None,
        *,
        prototypes: np.ndarray | None = None,
        prototype_classes: Sequence[str] | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.taxonomy = taxonomy or load_taxonomy()
        if prototypes is None:
            if embedder is None:
                raise ValueError("EmpathyMatcher needs an embedder (or precomputed prototypes)")
            texts, classes = self._seed_texts()
            prototypes = np.asarray(embedder.encode(texts), dtype=np.float32)
            prototype_classes = classes
        self.prototypes = np.asarray(prototypes, dtype=np.float32)
        self.prototype_classes = np.asarray(list(prototype_classes or []))
        self.classes: list[str] = [c for c in EMPATHY_CATEGORIES if c in set(self.prototype_classes)]
        self.calibration = calibration or self._calibrate()
        log.debug("empathy calibration: %s", self.calibration)

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def label_of(self, category: str) -> str:
        return self.taxonomy["categories"].get(category, {}).get("label", category)

    def _seed_texts(self) -> tuple[list[str], list[str]]:
        texts: list[str] = []
        classes: list[str] = []
        for name, spec in self.taxonomy["categories"].items():
            for t in [spec["description"], *spec["examples"]]:
                texts.append(t)
                classes.append(name)
        for t in self.taxonomy["negatives"]:
            texts.append(t)
            classes.append(NONE_CLASS)
        return texts, classes

    def _class_scores(self, sims: np.ndarray) -> np.ndarray:
        """(n, len(classes) + 1) mean top-M similarity per class; the last column is the non-empathy class."""
        out = np.empty((sims.shape[0], len(self.classes) + 1), dtype=np.float32)
        for j, cls in enumerate([*self.classes, NONE_CLASS]):
            cols = sims[:, self.prototype_classes == cls]
            m = min(TOP_M, cols.shape[1])
            out[:, j] = np.sort(cols, axis=1)[:, -m:].mean(axis=1)
        return out

    def _decide(self, scores: np.ndarray, threshold: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
        emp = scores[:, :-1]
        best = emp.argmax(axis=1)
        best_score = emp[np.arange(len(emp)), best]
        accepted = (best_score >= threshold) & (best_score - scores[:, -1] >= margin)
        return np.where(accepted, best, -1), best_score

    def _calibrate(self) -> Calibration:
        """Leave-one-out over the seeds; the (threshold, margin) with the best F0.5 wins (higher on ties)."""
        sims = self.prototypes @ self.prototypes.T
        np.fill_diagonal(sims, -np.inf)
        scores = self._class_scores(sims)
        truth = np.array([self.classes.index(c) if c in self.classes else -1 for c in self.prototype_classes])
        best = Calibration(0.5, 0.0, -1.0)
        for threshold in np.arange(0.2, 0.8, 0.01):
            for margin in np.arange(-0.05, 0.2, 0.01):
                pred, _ = self._decide(scores, threshold, margin)
                tp = np.sum((pred >= 0) & (pred == truth))
                fp = np.sum((pred >= 0) & (pred != truth))
                fn = np.sum((truth >= 0) & (pred != truth))
                if tp == 0:
                    continue
                precision, recall = tp / (tp + fp), tp / (tp + fn)
                f = (1 + BETA**2) * precision * recall / (BETA**2 * precision + recall)
                if f >= best.f_score:
                    best = Calibration(float(round(threshold, 2)), float(round(margin, 2)), float(f))
        return best

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Per item and class (categories, then non-empathy) the mean top-3 similarity to its seeds."""
        x = np.asarray(embeddings, dtype=np.float32).reshape(-1, self.prototypes.shape[1])
        return self._class_scores(x @ self.prototypes.T)

    def classify(self, embeddings: np.ndarray) -> list[tuple[str | None, float]]:
        """Per item: (category or None, score of the best category)."""
        if len(embeddings) == 0:
            return []
        pred, best_score = self._decide(self.scores(embeddings), self.calibration.threshold, self.calibration.margin)
        return [(self.classes[p] if p >= 0 else None, float(s)) for p, s in zip(pred, best_score, strict=True)]

    def to_state(self) -> dict[str, Any]:
        """JSON-able state, so a follower without the model classifies the same way."""
        return {
            "prototypes": encode_array(self.prototypes),
            "shape": list(self.prototypes.shape),
            "classes": self.prototype_classes.tolist(),
            "calibration": [self.calibration.threshold, self.calibration.margin, self.calibration.f_score],
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> EmpathyMatcher:
        t, m, f = d["calibration"]
        return cls(
            prototypes=decode_array(d["prototypes"], tuple(d["shape"])),
            prototype_classes=d["classes"],
            calibration=Calibration(t, m, f),
        )
