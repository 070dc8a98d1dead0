"""Banking77 train for tests (PolyAI, CC BY 4.0; Casanueva et al. 2020), from ../shared/data/banking77.

Embeddings come from .cache/embeddings when present (benchmarks/discovery.py fills it), else they are computed
with the embedder the caller hands over on demand (about a minute), and cached for the next test.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from insights.themes.cache import cached_embeddings

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"


def train_texts_and_embeddings(embedder: Callable[[], object]) -> tuple[list[str], np.ndarray]:
    """Texts and embeddings of Banking77 train; ``embedder()`` is called only when the cache misses."""
    with TRAIN.open(newline="", encoding="utf-8") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    cache = ROOT / ".cache" / "embeddings"
    try:
        return texts, cached_embeddings(texts, None, "banking77-train", cache_dir=cache)
    except FileNotFoundError:
        return texts, cached_embeddings(texts, embedder(), "banking77-train", cache_dir=cache)
