"""Texts are embedded in batches of similar token length (less padding for the model to compute) and within a
token budget (a worker's peak memory does not depend on the longest batch it happens to see); the vectors and
their order are those of a plain ``model.encode``."""

from __future__ import annotations

import numpy as np

from insights.embedding import LENGTH_TOLERANCE, Embedder
from tests.arrays import bytes_held

TEXTS = (
    ["ok", "The agent was rude to me"]
    + [f"I waited on hold for {i} minutes and then the line dropped " * 3 for i in range(5)]
    + [f"Long review {i}: " + "the delivery was late and nobody called me back about it. " * 30 for i in range(4)]
    + ["Great service, thanks!", "N/A"]
)


def test_length_batches_cover_every_text_once_within_the_budget_and_of_similar_length(embedder: Embedder) -> None:
    batches = embedder.length_batches(TEXTS)
    assert sorted(i for batch in batches for i in batch) == list(range(len(TEXTS)))
    lengths = [len(ids) for ids in embedder.model.tokenizer(TEXTS, truncation=True,
                                                            max_length=embedder.model.max_seq_length)["input_ids"]]
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert 1 <= len(batch) <= embedder.batch_size
        assert len(batch) == 1 or len(batch) * longest <= embedder.max_batch_tokens
        assert min(lengths[i] for i in batch) >= LENGTH_TOLERANCE * longest
    assert any(len(batch) > 1 for batch in batches), "every text alone: no batching at all"
    long_reviews = {i for i, text in enumerate(TEXTS) if text.startswith("Long review")}
    assert not any(long_reviews & set(batch) and set(batch) - long_reviews for batch in batches), \
        "a long review was padded together with short comments"


def test_length_batches_give_the_vectors_of_one_plain_encode_in_the_same_order(embedder: Embedder) -> None:
    batched = Embedder(model=embedder.model, cache_size=0, max_batch_tokens=512).encode(TEXTS)
    plain = embedder.model.encode(TEXTS, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    assert batched.shape == (len(TEXTS), embedder.dimension)
    np.testing.assert_allclose(batched, plain, atol=1e-5)
    assert float(batched[0] @ batched[-1]) < 0.99  # not one vector repeated


def test_cached_vectors_hold_only_their_own_rows(embedder: Embedder) -> None:
    """A cached text must not keep the array of the whole batch it was embedded in alive: popular texts
    ("great", "N/A") stay cached for hours, each pinning a different batch."""
    cached = Embedder(model=embedder.model, cache_size=6)  # batches of 4: the oldest batch is half evicted
    for start in range(0, len(TEXTS), 4):
        cached.encode(TEXTS[start:start + 4])
    vectors = list(cached._cache.values())
    assert len(vectors) == 6
    assert bytes_held(vectors) == sum(v.nbytes for v in vectors)
