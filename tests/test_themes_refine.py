"""Refinement of streaming themes: the stream sample and the split plan (the Banking77 effect is in
tests/test_themes_stability.py)."""

from __future__ import annotations

import numpy as np

from insights.themes import ThemeModel
from insights.themes.refine import StreamSample, plan_splits


def test_a_theme_with_two_clusters_inside_is_split_and_the_larger_keeps_it():
    current = np.array([0] * 30 + [0] * 20 + [1] * 25 + [1] * 5 + [2] * 7 + [-1] * 3)
    clusters = np.array([0] * 30 + [1] * 20 + [2] * 25 + [3] * 12 + [-1] * 3)  # cluster 3 spans themes 1 and 2
    splits = plan_splits(clusters, current, min_size=5)
    assert [s.theme for s in splits] == [0]
    assert splits[0].members.tolist() == list(range(30, 50))  # cluster 1: the smaller part of theme 0


def test_clusters_spanning_themes_small_parts_and_noise_split_nothing():
    current = np.array([0] * 20 + [1] * 20 + [0] * 4 + [0] * 10)
    clusters = np.array([0] * 20 + [0] * 20 + [1] * 4 + [-1] * 10)
    assert plan_splits(clusters, current, min_size=5) == []
    # a cluster only half inside a theme does not count as inside it, unless inside_share allows it
    current = np.array([0] * 20 + [0] * 9 + [1] * 6 + [2] * 6)
    clusters = np.array([0] * 20 + [1] * 21)
    assert plan_splits(clusters, current, min_size=5) == []
    assert len(plan_splits(clusters, current, min_size=5, inside_share=0.4)) == 1


def test_the_stream_sample_is_bounded_uniform_and_survives_a_restart():
    rng = np.random.default_rng(0)
    sample = StreamSample(500)
    x = rng.normal(size=(10_000, 8)).astype(np.float32)
    for start in range(0, 10_000, 100):
        sample.offer([str(i) for i in range(start, start + 100)], x[start : start + 100], rng)
    assert len(sample) == 500 and sample.seen == 10_000
    picked = np.array([int(t) for t in sample.texts])
    assert 0.4 <= np.mean(picked < 5_000) <= 0.6  # old and new items alike, not the first or the last 500
    rows = sample.embeddings()
    assert rows.shape == (500, 8) and np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-3)
    assert np.allclose(rows, x[picked] / np.linalg.norm(x[picked], axis=1, keepdims=True), atol=1e-2)
    again = StreamSample.from_state(sample.to_state())
    assert again.texts == sample.texts and again.seen == sample.seen
    assert np.array_equal(again.embeddings(), rows)


def _groups(rng: np.random.Generator, n: int, centres: np.ndarray, spread: float) -> tuple[np.ndarray, np.ndarray]:
    which = rng.integers(0, len(centres), n)
    x = centres[which] + rng.normal(0, spread, (n, centres.shape[1]))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), which


def test_model_state_keeps_the_sample_and_the_refinement_schedule():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 32))
    x, _ = _groups(rng, 1_500, centres, 0.05)
    model = ThemeModel(empathy=False, min_discovery_size=200, sample_size=800)
    for start in range(0, 1_500, 100):
        model.partial_fit([f"item {i}" for i in range(start, start + 100)], x[start : start + 100])
    assert model.refinement_rounds_ >= 1
    restored = ThemeModel.from_state(model.to_state())
    assert restored.sample.texts == model.sample.texts
    assert np.array_equal(restored.sample.embeddings(), model.sample.embeddings())
    assert (restored.fitted_on_, restored.refinement_rounds_) == (model.fitted_on_, model.refinement_rounds_)
    assert restored.sample_size == 800 and restored.refinable_


def test_themes_from_a_batch_fit_or_a_seeded_registry_are_not_refined():
    """They are mature, and the trends counted them as they are: re-partitioning them made the demo's seeded
    themes look like sudden rises (5 alerts instead of 1)."""
    rng = np.random.default_rng(4)
    x, _ = _groups(rng, 1_500, rng.normal(size=(6, 32)), 0.05)
    texts = [f"item {i}" for i in range(1_500)]
    fitted = ThemeModel(empathy=False, min_discovery_size=200, sample_size=800).fit(texts[:300], x[:300])
    seeded = ThemeModel(empathy=False, min_discovery_size=200, sample_size=800)
    for event in fitted.pop_events():
        seeded.apply_event(event.to_message())
    for model in (fitted, seeded):
        for start in range(300, 1_500, 100):
            model.partial_fit(texts[start : start + 100], x[start : start + 100])
        assert len(model.sample) == 0 and model.refinement_rounds_ == 0
