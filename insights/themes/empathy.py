"""The empathy taxonomy, matched by meaning.

Each category is seeded with a description and example complaints (empathy_taxonomy.json), and so is "not an
empathy problem", in named groups: food, prices and billing, delivery, bugs, wait time, products and places,
praise of the agent, neutral remarks, questions. Two scorers read the seeds' embeddings, and both are calibrated
on the seeds, not hand-set:

1. A multinomial logistic regression with one class per category and one per group of "not empathy" seeds. A
   text gets its likeliest category when that category is likelier than all the groups together, clears a
   probability threshold (out-of-fold over the seeds, best F0.5), and the nearest seeds confirm it (below).
2. The nearest seeds: the mean of a text's 3 best similarities to each class's seeds; a category when that
   clears a threshold and beats "not empathy" by a margin (leave-one-out over the seeds, best F1). They confirm
   the classifier's category, and where the classifier abstains they may give their own, unless the classifier
   gives "not an empathy problem" ``veto`` or more (out-of-fold over the seeds, best F0.5).

Why groups: "not empathy" is many topics, and one class for all of them is one direction for the regression to
learn. A wait to reach a person ("took forever to get through to someone") lies between holds in a queue and
"rushed"/"no follow-up" (all are about time and reaching a person); with one "not empathy" class 7 of 15
held-out waits were flagged, with a class of their own none (benchmarks/empathy.py has the rest).

Why two: praise of an agent ("friendly and knew exactly what to do") lies close to complaints about agents,
because both are about the agent, and the nearest seeds alone called 128 thank-yous among 6,000 simulated items an
empathy problem. The classifier learns which directions separate the classes, but alone it missed "Rude." and
"raised their voice at me" (one "not empathy" class then), and it extrapolates: it also answers for texts unlike
any seed, which the nearest seeds do not. Each covers the other's blind spot (benchmarks/empathy.py, which also
counts the flags on Banking77's questions, where no text is an empathy complaint). Precision weighs more than
recall: calling a cold-pizza complaint or a thank-you "rude agent" would poison the alerts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from insights.themes.types import decode_array, encode_array

log = logging.getLogger(__name__)

EMPATHY_CATEGORIES: tuple[str, ...] = ("rude", "robotic", "didnt_listen", "dismissive", "no_follow_up", "rushed")
NONE_CLASS = "__none__"
BETA = 0.5  # F-beta of the classifier's calibration; below 1 favours precision
SEED_C = 100.0  # inverse regularisation: the seeds are few but clean, so the boundary may follow them closely
CV_FOLDS = 5
TOP_M = 3  # nearest seeds per class whose mean similarity scores it: one stray seed cannot decide alone
# in the state: a calibration made for another scoring is redone
METHOD = "grouped-classifier-confirmed+nearest-seeds+veto"


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def load_taxonomy(path: str | Path | None = None) -> dict[str, Any]:
    """The seeded taxonomy (the packaged JSON unless a path is given)."""
    if path is not None:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return json.loads(resources.files("insights.themes").joinpath("empathy_taxonomy.json").read_text("utf-8"))


@dataclass(frozen=True)
class Calibration:
    """The nearest seeds' ``threshold`` and ``margin`` over "not empathy" (leave-one-out F1 ``f_score``), the
    probability the classifier needs (``probability``, out-of-fold F0.5 ``probability_f``), and the classifier's
    "not empathy" probability that overrules the nearest seeds (``veto``, F0.5 ``veto_f`` of both together)."""

    threshold: float
    margin: float
    f_score: float
    probability: float = 0.5
    probability_f: float = 0.0
    veto: float = 1.0
    veto_f: float = 0.0


def is_not_empathy(seed_class: str) -> bool:
    """A "not empathy" seed's class: ``__none__`` alone (a taxonomy with a flat list) or ``__none__:group``."""
    return str(seed_class).split(":", 1)[0] == NONE_CLASS


class EmpathyMatcher:
    """Classify embeddings into an empathy category (or None): a classifier on the seeds, then the nearest seeds."""

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
        self.prototype_classes = np.asarray(list(prototype_classes) if prototype_classes is not None else [])
        self.classes: list[str] = [c for c in EMPATHY_CATEGORIES if c in set(self.prototype_classes)]
        # which seeds score each column of _seed_scores: the categories, then every "not empathy" group
        self._seed_masks = [self.prototype_classes == c for c in self.classes]
        self._seed_masks.append(np.array([is_not_empathy(c) for c in self.prototype_classes], dtype=bool))
        self._model = self._classifier().fit(self.prototypes, self.prototype_classes)
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
        negatives = self.taxonomy["negatives"]
        groups = negatives.items() if isinstance(negatives, dict) else [(None, negatives)]
        for group, seeds in groups:
            for t in seeds:
                texts.append(t)
                classes.append(f"{NONE_CLASS}:{group}" if group else NONE_CLASS)
        return texts, classes

    @staticmethod
    def _classifier():
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=SEED_C, max_iter=5000)

    def _seed_scores(self, sims: np.ndarray) -> np.ndarray:
        """(n, len(classes) + 1) mean top-M similarity per class; the last column is "not empathy" (all groups)."""
        out = np.empty((sims.shape[0], len(self.classes) + 1), dtype=np.float32)
        for j, mask in enumerate(self._seed_masks):
            cols = sims[:, mask]
            out[:, j] = np.sort(cols, axis=1)[:, -min(TOP_M, cols.shape[1]):].mean(axis=1)
        return out

    def _probabilities(self, proba: np.ndarray, model_classes: Sequence[str]) -> np.ndarray:
        """The classifier's probabilities in our column order: the categories, then "not empathy" (groups summed)."""
        proba = np.asarray(proba, dtype=np.float32)
        model_classes = list(model_classes)
        none = np.array([is_not_empathy(c) for c in model_classes])
        columns = [proba[:, model_classes.index(c)] for c in self.classes]
        return np.column_stack([*columns, proba[:, none].sum(axis=1)])

    def _combine(self, sure: np.ndarray, seed_scores: np.ndarray, none_probability: np.ndarray,
                 threshold: float, margin: float, veto: float) -> np.ndarray:
        """The classifier's category where the nearest seeds confirm it, else the nearest seeds' own unless the
        classifier vetoes.

        Confirmed: the text is as close to that category's seeds as the nearest seeds' rule asks. A linear
        classifier answers for any text, also one unlike every seed: Banking77's questions about transfers
        ("Why didn't my transfer go through?") came out "passed around, no follow-up" with a probability to spare,
        140 of 3,080 questions flagged, though none is nearer to those seeds than ~0.37."""
        rows = np.arange(len(sure))
        own = seed_scores[rows, np.clip(sure, 0, None)]
        confirmed = (sure >= 0) & (own >= threshold) & (own - seed_scores[:, -1] >= margin)
        nearest = self._decide(seed_scores, threshold, margin)[0]
        return np.where(confirmed, sure, np.where(none_probability < veto, nearest, -1))

    @staticmethod
    def _decide(scores: np.ndarray, threshold: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Best category per row (or -1) when it clears ``threshold`` and leads "not empathy" by ``margin``."""
        emp = scores[:, :-1]
        best = emp.argmax(axis=1)
        best_score = emp[np.arange(len(emp)), best]
        accepted = (best_score >= threshold) & (best_score - scores[:, -1] >= margin)
        return np.where(accepted, best, -1), best_score

    @staticmethod
    def _f_score(pred: np.ndarray, truth: np.ndarray, beta: float) -> float:
        tp = np.sum((pred >= 0) & (pred == truth))
        if tp == 0:
            return -1.0
        precision, recall = tp / np.sum(pred >= 0), tp / np.sum(truth >= 0)
        return float((1 + beta**2) * precision * recall / (beta**2 * precision + recall))

    def _calibrate(self) -> Calibration:
        """Nearest seeds: leave-one-out, the (threshold, margin) with the best F1. Classifier: out-of-fold
        probabilities (stratified folds), the threshold with the best F-beta. The veto: both together, out of fold,
        the best F-beta. Higher values win ties."""
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        truth = np.array([self.classes.index(c) if c in self.classes else -1 for c in self.prototype_classes])
        sims = self.prototypes @ self.prototypes.T
        np.fill_diagonal(sims, -np.inf)
        seed_scores = self._seed_scores(sims)
        nearest = (0.5, 0.0, -1.0)
        for threshold in np.arange(0.2, 0.8, 0.01):
            for margin in np.arange(-0.05, 0.2, 0.01):
                f = self._f_score(self._decide(seed_scores, threshold, margin)[0], truth, 1.0)
                if f >= nearest[2]:
                    nearest = (float(round(threshold, 2)), float(round(margin, 2)), f)
        smallest = min(np.unique(self.prototype_classes, return_counts=True)[1])
        folds = StratifiedKFold(max(2, min(CV_FOLDS, smallest)), shuffle=True, random_state=0)
        proba = cross_val_predict(self._classifier(), self.prototypes, self.prototype_classes, cv=folds,
                                  method="predict_proba")
        out_of_fold = self._probabilities(proba, sorted(set(self.prototype_classes)))
        best_p, best_f = 0.5, -1.0
        for p in np.arange(0.1, 0.9, 0.02):
            f = self._f_score(self._decide(out_of_fold, p, 1e-9)[0], truth, BETA)  # and likelier than "none"
            if f >= best_f:
                best_p, best_f = float(round(p, 2)), f
        sure = self._decide(out_of_fold, best_p, 1e-9)[0]
        best_veto, veto_f = 1.0, -1.0
        for veto in np.arange(0.1, 1.001, 0.05):
            pred = self._combine(sure, seed_scores, out_of_fold[:, -1], nearest[0], nearest[1], veto)
            f = self._f_score(pred, truth, BETA)
            if f >= veto_f:
                best_veto, veto_f = float(round(veto, 2)), f
        return Calibration(*nearest, probability=best_p, probability_f=best_f, veto=best_veto, veto_f=veto_f)

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Per item and class (categories, then "not empathy") the classifier's probability."""
        x = np.asarray(embeddings, dtype=np.float32).reshape(-1, self.prototypes.shape[1])
        return self._probabilities(self._model.predict_proba(x), self._model.classes_)

    def classify(
        self, embeddings: np.ndarray, using: Literal["both", "classifier", "nearest"] = "both"
    ) -> list[tuple[str | None, float]]:
        """Per item: (category or None, the classifier's probability of its likeliest category).

        ``using`` one scorer alone is for comparisons (benchmarks/empathy.py); the product uses both."""
        if len(embeddings) == 0:
            return []
        x = np.asarray(embeddings, dtype=np.float32).reshape(-1, self.prototypes.shape[1])
        cal = self.calibration
        proba = self.scores(x)
        sure, best_p = self._decide(proba, cal.probability, 1e-9)
        seed_scores = self._seed_scores(x @ self.prototypes.T)
        if using == "classifier":
            pred = sure
        elif using == "nearest":
            pred = self._decide(seed_scores, cal.threshold, cal.margin)[0]
        else:
            pred = self._combine(sure, seed_scores, proba[:, -1], cal.threshold, cal.margin, cal.veto)
        return [(self.classes[p] if p >= 0 else None, float(s)) for p, s in zip(pred, best_p, strict=True)]

    def to_state(self) -> dict[str, Any]:
        """JSON-able state, so a follower without the model classifies the same way."""
        return {
            "prototypes": encode_array(self.prototypes),
            "shape": list(self.prototypes.shape),
            "classes": self.prototype_classes.tolist(),
            "calibration": list(astuple(self.calibration)),
            "method": METHOD,
            "taxonomy_version": self.taxonomy.get("version"),
        }

    @classmethod
    def from_state(cls, d: dict[str, Any], embedder: TextEncoder | None = None) -> EmpathyMatcher:
        """The saved seeds and calibration; re-seeded from the packaged taxonomy when it is a newer version and an
        ``embedder`` is given, so an upgrade reaches a worker that restores its state (version 1 had no number)."""
        taxonomy = load_taxonomy()
        if embedder is not None and d.get("taxonomy_version", 1) != taxonomy.get("version"):
            log.info("empathy taxonomy: version %s in the saved state, %s packaged: seeding again",
                     d.get("taxonomy_version", 1), taxonomy.get("version"))
            return cls(embedder, taxonomy)
        return cls(
            taxonomy=taxonomy,
            prototypes=decode_array(d["prototypes"], tuple(d["shape"])),
            prototype_classes=d["classes"],
            calibration=Calibration(*d["calibration"]) if d.get("method") == METHOD else None,
        )
