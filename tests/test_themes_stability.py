"""Stable theme ids: fit on half of Banking77 train, partial_fit the other half; most first-half items keep their id.

Banking77 (PolyAI, CC BY 4.0; Casanueva et al. 2020), from ../shared/data/banking77. Embeddings come from
.cache/embeddings when present (benchmarks/discovery.py fills it), else they are computed (about a minute).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from insights.themes import ThemeModel
from tests.banking77 import TRAIN, train_texts_and_embeddings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TRAIN.exists(), reason=f"no Banking77 data at {TRAIN}"),
]


@pytest.fixture(scope="module")
def banking_train(request) -> tuple[list[str], np.ndarray]:
    return train_texts_and_embeddings(lambda: request.getfixturevalue("embedder"))


def test_first_half_keeps_its_theme_ids_after_streaming_the_second(banking_train):
    texts, x = banking_train
    order = np.random.default_rng(0).permutation(len(texts))
    first, second = order[: len(order) // 2], order[len(order) // 2 :]
    model = ThemeModel(empathy=False).fit([texts[i] for i in first], x[first], ids=[str(i) for i in first])
    before = model.predict([texts[i] for i in first], x[first])
    model.pop_events()
    for start in range(0, len(second), 128):
        batch = second[start : start + 128]
        model.partial_fit([texts[i] for i in batch], x[batch], ids=[str(i) for i in batch])
    after = model.predict([texts[i] for i in first], x[first])
    had = [i for i, p in enumerate(before) if p.theme_id is not None]
    kept = np.mean([before[i].theme_id == after[i].theme_id for i in had])
    assert len(had) >= 0.95 * len(first)
    assert kept >= 0.90, f"only {kept:.1%} of the first half kept their theme id"
    # the stream itself was learnt from: most of the second half has a theme, the rest waits in the buffer
    placed = [p.theme_id is not None for p in model.predict([texts[i] for i in second], x[second])]
    assert np.mean(placed) >= 0.9
    assert model.unassigned_count <= model.buffer_size
    events = model.pop_events()
    assert events and {e.event_type for e in events} <= {"birth", "update", "merge", "split", "rename", "retire"}
    for level in ("fine", "coarse"):  # a dashboard never lists two themes of one level under one label
        labels = [t.label for t in model.themes if t.level == level]
        assert len(set(labels)) == len(labels), sorted(labels)


def _stream_nmi(model: ThemeModel, texts: list[str], x: np.ndarray, labels: list[str]) -> tuple[float, int]:
    """Stream Banking77 train (shuffled) in batches of 256, then score the model's themes against the intents."""
    from sklearn.metrics import normalized_mutual_info_score

    for start in range(0, len(texts), 256):
        model.partial_fit(texts[start : start + 256], x[start : start + 256])
        model.pop_events()
    themes = [p.theme_id or "-" for p in model.predict(texts, x)]
    return float(normalized_mutual_info_score(labels, themes)), len(model.registry.active("fine"))


def test_refinement_splits_the_broad_themes_of_a_stream_first_round(banking_train):
    """The first streaming round sees 500 items and finds broad themes; without refinement every later item joins
    one of them (24 themes for 77 intents, NMI 0.65 here). Re-clustering a sample as the stream grows splits them."""
    texts, x = banking_train
    with TRAIN.open(newline="", encoding="utf-8") as fh:
        intents = [r["category"] for r in csv.DictReader(fh)]
    order = np.random.default_rng(1).permutation(len(texts))
    texts, x, intents = [texts[i] for i in order], x[order], [intents[i] for i in order]
    plain_nmi, plain_themes = _stream_nmi(ThemeModel(empathy=False, sample_size=0), texts, x, intents)
    model = ThemeModel(empathy=False)
    refined_nmi, refined_themes = _stream_nmi(model, texts, x, intents)
    assert model.refinement_rounds_ == 3  # at 1k, 2k and 4k items; then the sample (5k) is not twice 4k
    assert refined_themes >= plain_themes + 30
    assert refined_nmi >= plain_nmi + 0.08, (plain_nmi, refined_nmi)
    assert refined_nmi >= 0.75
