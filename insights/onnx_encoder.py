"""A sentence-transformers model run by ONNX Runtime: the same vectors as ``model.encode``, for less CPU.

Embedding is most of a worker's CPU. ONNX Runtime runs the same transformer graph about 10 to 15% faster than
PyTorch on this project's 2-core machines (``benchmarks/throughput.py --backend onnx`` measures it against raw
``model.encode`` in the same run), and its thread pool copes better with the event loop and the learner taking
turns on the same cores. The graph is exported once from the local weights (nothing is downloaded) and kept in
a cache folder; the vectors match PyTorch's to float rounding (cosine distance below 1e-6).

Only the common layout is exported: a Transformer module, mean or CLS pooling, an optional Normalize. Any other
model raises :class:`OnnxNotSupported` and the caller keeps PyTorch.

``optimum`` (what sentence-transformers' own ``backend="onnx"`` needs) would downgrade transformers here, so the
export uses ``torch.onnx.export`` directly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_INSTALL = "pip install onnx onnxruntime (or set EMBEDDING_BACKEND=torch)"
DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "insights" / "onnx"


class OnnxNotSupported(RuntimeError):
    """The model's layout (or the installed packages) cannot be run on ONNX Runtime; use PyTorch."""


def _pooling_mode(model) -> str:
    """'mean' or 'cls', read from the model's Pooling module; anything else is not supported."""
    from sentence_transformers.models import Normalize, Pooling, Transformer

    modules = list(model)
    if not modules or not isinstance(modules[0], Transformer) or len(modules) < 2:
        raise OnnxNotSupported("the model does not start with a Transformer module followed by pooling")
    pooling = modules[1]
    if not isinstance(pooling, Pooling) or any(not isinstance(m, Normalize) for m in modules[2:]):
        raise OnnxNotSupported(f"unsupported modules after the transformer: {[type(m).__name__ for m in modules[1:]]}")
    config = pooling.get_config_dict()
    mode = config.get("pooling_mode")  # sentence-transformers >= 6: one name; before: one flag per mode
    if mode is None:
        flags = [k.removeprefix("pooling_mode_") for k, v in config.items() if k.startswith("pooling_mode_") and v]
        mode = {"mean_tokens": "mean", "cls_token": "cls"}.get(flags[0], flags[0]) if len(flags) == 1 else flags
    if mode in ("mean", "cls"):
        return mode
    raise OnnxNotSupported(f"unsupported pooling {mode!r}")


def _last_hidden_state(transformer, input_names: Sequence[str]):
    """The transformer as a module of plain tensors in, token embeddings out: the shape the exporter needs."""
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *tensors):
            return self.inner(**dict(zip(input_names, tensors, strict=True))).last_hidden_state

    return Wrapped().eval()


def export_onnx(model, path: Path) -> None:
    """Export the transformer of a sentence-transformers model to ``path`` (atomically: a concurrent reader
    sees the whole file or none)."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import torch
    except ImportError as exc:
        raise OnnxNotSupported(f"the onnx package is missing: {_INSTALL}") from exc
    features = (getattr(model, "preprocess", None) or model.tokenize)(
        ["an example sentence", "a second, somewhat longer example sentence"])
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features]
    wrapped = _last_hidden_state(model[0].auto_model, names)
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about Python control flow in the HF code
            torch.onnx.export(wrapped, tuple(features[n] for n in names), tmp, input_names=names,
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _cache_key(model_path: str) -> str:
    """Changes with the weights and with the packages that shape the graph."""
    import torch
    import transformers

    digest = hashlib.sha256()
    digest.update(f"{torch.__version__}|{transformers.__version__}|".encode())
    folder = Path(model_path)
    weights = sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.bin")) if folder.is_dir() else []
    for file in weights:
        stat = file.stat()
        digest.update(f"{file.relative_to(folder)}|{stat.st_size}|{int(stat.st_mtime)}|".encode())
    digest.update(str(folder.resolve() if folder.is_dir() else model_path).encode())
    return digest.hexdigest()[:20]


class OnnxSentenceEncoder:
    """``encode`` like a SentenceTransformer, computed by ONNX Runtime from an exported graph.

    The tokenizer is the model's own (``model.tokenize``, same truncation), so only the transformer runs
    elsewhere; pooling and normalisation are a few numpy lines.
    """

    def __init__(self, model, model_path: str, cache_dir: Path | None = None, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise OnnxNotSupported(f"onnxruntime is missing: {_INSTALL}") from exc
        self.source = model
        self.pooling = _pooling_mode(model)
        self.normalize = len(list(model)) > 2
        self.path = Path(cache_dir or DEFAULT_CACHE_DIR) / f"{_cache_key(model_path)}.onnx"
        if not self.path.exists():
            log.info("exporting the embedding model to ONNX once: %s", self.path)
            export_onnx(model, self.path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or _cpu_count()
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: the event loop and the learner share these cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        log.info("embedding on ONNX Runtime (%s pooling, %d threads)", self.pooling, options.intra_op_num_threads)

    def _tokenize(self, texts: list[str]) -> dict[str, Any]:
        """The model's own preprocessing (``preprocess`` since sentence-transformers 6, ``tokenize`` before)."""
        preprocess = getattr(self.source, "preprocess", None) or self.source.tokenize
        return preprocess(texts)

    @property
    def tokenizer(self):
        return self.source.tokenizer

    @property
    def max_seq_length(self) -> int:
        return self.source.max_seq_length

    def get_sentence_embedding_dimension(self) -> int:
        from insights.embedding import _dimension_of

        return _dimension_of(self.source)

    get_embedding_dimension = get_sentence_embedding_dimension

    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
        **_: Any,
    ) -> np.ndarray:
        """Embed in batches of similar length (as sentence-transformers does: less padding)."""
        texts = list(sentences)
        out = np.empty((len(texts), self.get_sentence_embedding_dimension()), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        if show_progress_bar:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            index = order[start:start + batch_size]
            features = self._tokenize([texts[i] for i in index])
            feed = {name: features[name].numpy().astype(np.int64) for name in self.input_names}
            hidden = self.session.run(None, feed)[0]
            if self.pooling == "cls":
                vectors = hidden[:, 0]
            else:
                mask = feed["attention_mask"][..., None].astype(np.float32)
                vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            if self.normalize or normalize_embeddings:
                vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[index] = vectors
        return out


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
