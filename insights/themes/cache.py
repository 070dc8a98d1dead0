"""An on-disk cache of embeddings for whole datasets.

Embedding is the slowest step on a CPU (about 200 sentences/s), so benchmarks, tests and repeated
``insights discover`` runs over the same file should pay for it once. The key holds the dataset name, the model
name and a digest of the texts, so a changed file or model never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path(".cache") / "embeddings"


class TextEncoder(Protocol):
    model_name: str

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray: ...


def texts_digest(texts: Sequence[str]) -> str:
    """A short digest of the texts in order (the cache is only valid for exactly these texts)."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def cache_path(dataset: str, model_name: str, texts: Sequence[str], cache_dir: Path | str = DEFAULT_CACHE_DIR) -> Path:
    """Where the embeddings of ``texts`` (from ``dataset`` with ``model_name``) are kept."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{dataset}__{model_name}")
    return Path(cache_dir) / f"{safe}__{texts_digest(texts)}.npy"


def cached_embeddings(
    texts: Sequence[str],
    embedder: TextEncoder | None,
    dataset: str,
    model_name: str | None = None,
    cache_dir: Path | str = DEFAULT_CACHE_DIR,
    show_progress: bool = False,
) -> np.ndarray:
    """Load the embeddings of ``texts`` from the cache, or compute and store them.

    ``embedder`` may be None when the caller only wants a cache hit (it raises FileNotFoundError otherwise),
    so a test can avoid loading the model when the vectors are already on disk.
    """
    name = model_name or (embedder.model_name if embedder is not None else "all-MiniLM-L6-v2")
    path = cache_path(dataset, name, texts, cache_dir)
    if path.exists():
        vectors = np.load(path)
        if len(vectors) == len(texts):
            return vectors
        log.warning("ignoring %s: %d rows for %d texts", path, len(vectors), len(texts))
    if embedder is None:
        raise FileNotFoundError(path)
    vectors = np.asarray(embedder.encode(list(texts), show_progress=show_progress), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors
