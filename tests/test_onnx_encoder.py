"""EMBEDDING_BACKEND=onnx: the same vectors as PyTorch, exported once, and a clear fallback where it cannot run."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from insights.embedding import Embedder, load_sentence_transformer
from insights.onnx_encoder import OnnxSentenceEncoder
from tests.test_model_choice import _build

pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

TEXTS = [
    "The agent was rude to me.",
    "ok",
    "",
    "Le conseiller ne m'a pas écouté, j'ai dû répéter trois fois 🙁",
    "Great service, thanks! " * 120,  # past the model's 256 tokens: truncated the same way
    "I had to repeat myself three times and nobody called me back about the refund.",
]


@pytest.fixture(scope="module")
def torch_model():
    return load_sentence_transformer("all-MiniLM-L6-v2")


def test_onnx_vectors_match_pytorch(torch_model, tmp_path: Path) -> None:
    onnx = OnnxSentenceEncoder(torch_model, str(tmp_path / "src"), cache_dir=tmp_path / "onnx")
    for batch_size in (1, 4, 64):  # padding differs with the batch; the vectors must not
        got = onnx.encode(TEXTS, batch_size=batch_size, normalize_embeddings=True)
        expected = torch_model.encode(TEXTS, batch_size=batch_size, normalize_embeddings=True)
        assert got.shape == expected.shape == (len(TEXTS), 384) and got.dtype == np.float32
        assert float(np.max(1 - (got * expected).sum(axis=1))) < 1e-5
    assert onnx.pooling == "mean" and onnx.get_sentence_embedding_dimension() == 384


def test_the_graph_is_exported_once_and_reused(torch_model, tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="insights.onnx_encoder"):
        first = OnnxSentenceEncoder(torch_model, "all-MiniLM-L6-v2", cache_dir=tmp_path)
        exported = first.path.stat().st_mtime_ns
        second = OnnxSentenceEncoder(torch_model, "all-MiniLM-L6-v2", cache_dir=tmp_path)
    assert second.path == first.path and second.path.stat().st_mtime_ns == exported
    assert sum("exporting" in r.message for r in caplog.records) == 1
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name], "a temporary file was left behind"


def test_the_embedder_on_onnx_gives_the_pytorch_vectors(tmp_path: Path) -> None:
    onnx = Embedder("all-MiniLM-L6-v2", backend="onnx", onnx_dir=str(tmp_path))
    assert isinstance(onnx.model, OnnxSentenceEncoder) and onnx.dimension == 384
    plain = Embedder("all-MiniLM-L6-v2", cache_size=0)
    np.testing.assert_allclose(onnx.encode(TEXTS), plain.encode(TEXTS), atol=2e-4)


def test_a_model_it_cannot_export_stays_on_pytorch_with_a_warning(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "minilm-dense-16"
    expected = _build(folder, 16, seed=3)  # a Dense layer after pooling: not the supported layout
    with caplog.at_level(logging.WARNING, logger="insights.embedding"):
        embedder = Embedder(str(folder), backend="onnx", onnx_dir=str(tmp_path / "onnx"))
    assert not isinstance(embedder.model, OnnxSentenceEncoder)
    assert any("EMBEDDING_BACKEND=onnx not used" in r.message and "Dense" in r.message for r in caplog.records)
    np.testing.assert_allclose(embedder.encode(["The agent was rude to me.", "Great service, thanks!",
                                                "I had to repeat myself three times."]), expected, atol=1e-5)
