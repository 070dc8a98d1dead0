"""EMBEDDING_MODEL picks the sentence-transformers model: another local model folder is used when configured, offline.

The other model is built here from the bundled all-MiniLM-L6-v2 plus a seeded Dense layer to 64 dimensions (so it
is detectably different: 64 dims instead of 384, other vectors), saved to a temporary folder, and configured
through the environment exactly as a deployment would configure a multilingual model saved with ``model.save``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from insights.embedding import Embedder, ModelNotAvailable, load_sentence_transformer, resolve_model_path
from insights.settings import Settings

TEXTS = ["The agent was rude to me.", "Great service, thanks!", "I had to repeat myself three times."]


def _dense_class():
    try:  # sentence-transformers >= 5.x
        from sentence_transformers.sentence_transformer.modules import Dense
    except ImportError:  # pragma: no cover - older releases
        from sentence_transformers.models import Dense
    return Dense


def _build(folder: Path, dims: int, seed: int) -> np.ndarray:
    """Save MiniLM + Dense(384 -> dims) to ``folder``; return its normalised vectors of TEXTS."""
    import torch
    from sentence_transformers import SentenceTransformer

    base = load_sentence_transformer("all-MiniLM-L6-v2")
    torch.manual_seed(seed)
    width = (getattr(base, "get_embedding_dimension", None) or base.get_sentence_embedding_dimension)()
    dense = _dense_class()(in_features=width, out_features=dims,
                           activation_function=torch.nn.Identity())
    model = SentenceTransformer(modules=[*base, dense], device="cpu")
    model.save(str(folder))
    return model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("models") / "minilm-dense-64"
    vectors = _build(folder, 64, seed=0)
    return folder, vectors


def test_a_configured_model_folder_is_the_one_used(small_model, monkeypatch) -> None:
    folder, expected = small_model
    assert (folder / "modules.json").is_file()
    monkeypatch.setenv("EMBEDDING_MODEL", str(folder))
    settings = Settings(_env_file=None)
    assert settings.embedding_model == str(folder)
    assert resolve_model_path(settings.embedding_model) == str(folder.resolve())

    embedder = Embedder(settings.embedding_model, batch_size=settings.embedding_batch_size)
    assert embedder.dimension == 64
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)  # the saved weights, not something else


def test_the_default_model_is_different(small_model, monkeypatch) -> None:
    folder, expected = small_model
    monkeypatch.delenv("EMBEDDING_MODEL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.embedding_model == "all-MiniLM-L6-v2"
    default = Embedder(settings.embedding_model)
    assert default.dimension == 384
    configured = Embedder(str(folder))
    a, b = default.encode(TEXTS), configured.encode(TEXTS)
    assert a.shape[1] != b.shape[1]
    # the geometry differs too: the cosine similarities between the texts are not the same
    assert not np.allclose(a @ a.T, b @ b.T, atol=1e-3)


def test_two_folders_two_models(small_model, tmp_path) -> None:
    folder, _ = small_model
    other = tmp_path / "minilm-dense-32"
    _build(other, 32, seed=1)
    assert Embedder(str(other)).dimension == 32
    assert Embedder(str(folder)).dimension == 64


def test_a_model_that_is_not_available_offline_fails_with_advice(tmp_path) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # tests/conftest.py: nothing is downloaded
    with pytest.raises((ModelNotAvailable, OSError)) as info:
        Embedder(str(tmp_path / "no-such-folder" / "paraphrase-multilingual-MiniLM-L12-v2-missing"))
    if isinstance(info.value, ModelNotAvailable):
        assert "EMBEDDING_MODEL" in str(info.value)
