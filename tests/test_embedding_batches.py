"""Long texts are embedded in smaller batches (a token budget), so a worker's peak memory does not depend on the
longest batch it happens to see; the vectors and their order are the same as with plain batching."""

from __future__ import annotations

import numpy as np

from insights.embedding import Embedder
from tests.arrays import bytes_held

TEXTS = (
    ["ok", "The agent was rude to me"]
    + [f"I waited on hold for {i} minutes and then the line dropped " * 3 for i in range(5)]
    + [f"Long review {i}: " + "the delivery was late and nobody called me back about it. " * 30 for i in range(4)]
    + ["Great service, thanks!", "N/A"]
)


def test_token_budget_groups_respect_the_budget_and_cover_every_text(embedder: Embedder) -> None:
    groups = embedder._token_budget_groups(TEXTS)
    assert sorted(i for members, _ in groups for i in members) == list(range(len(TEXTS)))
    lengths = [len(ids) for ids in embedder.model.tokenizer(TEXTS, truncation=True,
                                                            max_length=embedder.model.max_seq_length)["input_ids"]]
    for members, size in groups:
        assert 1 <= size <= embedder.batch_size
        assert size == 1 or size * max(lengths[i] for i in members) <= embedder.max_batch_tokens
    assert len(groups) > 1, "the long reviews were not put in smaller batches"


def test_budgeted_batches_give_the_same_vectors_in_the_same_order(embedder: Embedder) -> None:
    budgeted = Embedder(model=embedder.model, cache_size=0, max_batch_tokens=512)
    plain = Embedder(model=embedder.model, cache_size=0, max_batch_tokens=0)
    a, b = budgeted.encode(TEXTS), plain.encode(TEXTS)
    assert a.shape == (len(TEXTS), embedder.dimension)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert float(a[0] @ a[-1]) < 0.99  # not one vector repeated


def test_cached_vectors_hold_only_their_own_rows(embedder: Embedder) -> None:
    """A cached text must not keep the array of the whole batch it was embedded in alive: popular texts
    ("great", "N/A") stay cached for hours, each pinning a different batch."""
    cached = Embedder(model=embedder.model, cache_size=6)  # batches of 4: the oldest batch is half evicted
    for start in range(0, len(TEXTS), 4):
        cached.encode(TEXTS[start:start + 4])
    vectors = list(cached._cache.values())
    assert len(vectors) == 6
    assert bytes_held(vectors) == sum(v.nbytes for v in vectors)
