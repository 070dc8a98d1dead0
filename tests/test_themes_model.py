"""ThemeModel on synthetic embeddings (no language model): discovery, streaming, lineage, state, followers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from insights.themes import ThemeModel, cluster_embeddings
from insights.themes.keywords import (
    count_terms,
    ctfidf_keywords,
    distinguish_labels,
    label_phrase,
    label_words,
    short_label,
    terms_of,
)
from tests.arrays import bytes_held

DIM = 32


def blobs(n_clusters: int, per: int, seed: int = 0, spread: float = 0.1, centers: np.ndarray | None = None):
    """Unit vectors around random centres: clusters with known membership."""
    rng = np.random.default_rng(seed)
    if centers is None:
        centers = rng.normal(size=(n_clusters, DIM))
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    x = np.repeat(centers, per, axis=0) + rng.normal(0, spread, (n_clusters * per, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_clusters), per)
    texts = [f"topic{c} word{c} complaint number {i}" for i, c in enumerate(y)]
    return texts, x.astype(np.float32), y, centers


def test_cluster_embeddings_finds_the_clusters_without_being_told_how_many():
    _, x, y, _ = blobs(8, 60)
    result = cluster_embeddings(x)
    assert result.n_clusters == 8
    assert adjusted_rand_score(y, result.labels) > 0.95


def test_spectral_embedding_matches_sklearns_and_survives_a_nearly_disconnected_graph(caplog):
    from sklearn.manifold import spectral_embedding

    from insights.themes.discovery import knn_adjacency, knn_graph, spectral_embed

    _, x, y, _ = blobs(6, 80, spread=0.3)
    a = knn_adjacency(knn_graph(x, 12)[0])
    ours = spectral_embed(a, 8)
    theirs = spectral_embedding(a, n_components=8, random_state=0, drop_first=True)
    cos = np.abs((ours * theirs).sum(0)) / np.linalg.norm(ours, axis=0) / np.linalg.norm(theirs, axis=0)
    assert ours.shape == theirs.shape and cos.min() > 0.99  # the same eigenvectors, up to sign

    # the shift-invert fallback separates what ARPACK alone never does (see _embed_nearly_disconnected_themes)
    z, members = _embed_nearly_disconnected_themes(caplog)
    assert "shift-invert instead" in caplog.text
    assert z.shape == (400, 8) and np.isfinite(z).all()
    assert _spread_within_themes(z, members) < 1e-2 * np.ptp(z, axis=0).max()  # each theme stays (nearly) one point


def test_a_large_nearly_disconnected_graph_goes_to_algebraic_multigrid(caplog, monkeypatch):
    """The path of consensus graphs from AMG_MIN_ITEMS items on (there shift-invert's LU took 30 to 40 s), run on
    the small graph above by lowering the bound: the same answer, each theme (nearly) one point."""
    import insights.themes.discovery as discovery

    monkeypatch.setattr(discovery, "AMG_MIN_ITEMS", 100)
    z, members = _embed_nearly_disconnected_themes(caplog)
    assert "algebraic multigrid instead" in caplog.text
    assert z.shape == (400, 8) and np.isfinite(z).all()
    assert _spread_within_themes(z, members) < 1e-2 * np.ptp(z, axis=0).max()


def _embed_nearly_disconnected_themes(caplog) -> tuple[np.ndarray, np.ndarray]:
    """The 8-dimensional spectral embedding of a consensus graph of 40 themes whose kNN edges across themes keep
    only a 1e-6 weight (40 eigenvalues within 1e-6 of 1, which ARPACK alone never separates: minutes of restarts),
    with the discovery log captured; and each point's theme."""
    import logging

    from insights.themes.discovery import knn_adjacency, knn_graph, spectral_embed

    _, x, members, _ = blobs(40, 10, spread=0.15)
    idx = knn_graph(x, 12)[0]
    together = np.where(members[idx] == members[:, None], 1.0, 0.0)
    with caplog.at_level(logging.DEBUG, logger="insights.themes.discovery"):
        z = spectral_embed(knn_adjacency(idx, together + 1e-6), 8)
    return z, members


def _spread_within_themes(z: np.ndarray, members: np.ndarray) -> float:
    """The largest extent of one theme's points along any coordinate."""
    return max(np.ptp(z[members == b], axis=0).max() for b in np.unique(members))


def test_the_discriminant_space_brings_out_what_the_clusters_differ_in():
    """Three themes that differ in two of 32 directions, under strong noise shared by all: cosine neighbours mix
    them up; in the space fitted on the themes they come apart (first-neighbour purity)."""
    from insights.themes.discovery import discriminant_space

    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(3), 200)
    centres = np.zeros((3, DIM))
    centres[:, 0] = 1.0
    centres[1, 1], centres[2, 2] = 0.25, 0.25
    noise = rng.normal(0, 0.02, (600, DIM))
    noise[:, 3:12] += rng.normal(0, 0.3, (600, 9))  # what every text shares and varies in: the domain, phrasing
    x = centres[y] + noise
    x /= np.linalg.norm(x, axis=1, keepdims=True)

    def first_neighbour_purity(v: np.ndarray) -> float:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return float((y[sims.argmax(axis=1)] == y).mean())

    z = discriminant_space(x, y)
    assert z.shape == (600, 2)  # one direction fewer than the clusters
    assert np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    assert first_neighbour_purity(x) < 0.8
    assert first_neighbour_purity(z) > 0.95


def test_halves_of_one_theme_are_merged_over_the_embeddings_own_neighbours():
    """What a discriminant round can leave behind: one theme cut in two (here along a random direction) next to
    three whole ones. Over the embeddings' kNN graph the halves send each other most of their edges and become one
    theme again; the distinct themes stay apart, noise stays noise and only kept points stay core."""
    from insights.themes.discovery import Clustering, DiscoveryParams, _merged_in_embeddings, knn_graph

    _, x, y, _ = blobs(4, 60)
    first = np.flatnonzero(y == 0)
    direction = np.random.default_rng(1).normal(size=DIM)
    cut = y.copy()
    cut[first[(x[first] - x[first].mean(axis=0)) @ direction > 0]] = 4
    cut[:3] = -1
    assert len(np.unique(cut[cut >= 0])) == 5

    params = DiscoveryParams()
    graph = knn_graph(x, params.resolved_n_neighbors(len(x)))[0]
    merged = _merged_in_embeddings(Clustering(cut, cut >= 0), graph, params)
    assert merged.n_clusters == 4
    assert adjusted_rand_score(y[3:], merged.labels[3:]) == 1.0
    assert (merged.labels[:3] == -1).all() and not merged.core[:3].any() and merged.core[3:].all()


def test_too_few_items_are_left_for_later():
    _, x, _, _ = blobs(2, 5)
    assert cluster_embeddings(x).n_clusters == 0


def test_fit_assigns_everything_with_stable_ids_labels_and_a_coarse_level():
    texts, x, y, _ = blobs(12, 50)
    model = ThemeModel(empathy=False)
    preds = model.fit_predict(texts, x)
    assert sum(p.theme_id is None for p in preds) <= 0.02 * len(preds)
    assert adjusted_rand_score(y, [p.theme_id or "-" for p in preds]) > 0.9
    fine = [t for t in model.themes if t.level == "fine"]
    coarse = [t for t in model.themes if t.level == "coarse"]
    assert len(fine) == 12 and 2 <= len(coarse) < 12
    assert all(t.theme_id.startswith("t") and t.parent_id in {c.theme_id for c in coarse} for t in fine)
    assert all(len(t.quotes) == 3 and t.keywords and t.label for t in fine)
    events = model.pop_events()
    assert {e.event_type for e in events} == {"birth"}
    assert len({e.event_id for e in events}) == len(events)
    assert model.pop_events() == []


def test_partial_fit_keeps_ids_buffers_outliers_and_births_new_themes():
    texts, x, _, centers = blobs(6, 60, seed=1)
    model = ThemeModel(empathy=False, min_discovery_size=100).fit(texts, x)
    before = {p.theme_id for p in model.predict(texts, x)}
    model.pop_events()
    # more of the same, plus a new topic far from the old ones
    more_texts, more_x, _, _ = blobs(6, 40, seed=2, centers=centers)
    new_center = np.random.default_rng(9).normal(size=(1, DIM))
    new_center /= np.linalg.norm(new_center)
    new_texts, new_x, _, _ = blobs(1, 150, seed=3, centers=new_center)
    new_texts = [f"brandnew issue {i}" for i in range(len(new_texts))]
    ids = [f"n{i}" for i in range(len(new_texts))]
    model.partial_fit(more_texts, more_x)
    assert model.unassigned_count < 0.05 * len(more_texts)
    for s in range(0, 150, 50):
        model.partial_fit(new_texts[s : s + 50], new_x[s : s + 50], ids=ids[s : s + 50])
    after = model.predict(texts, x)
    assert {p.theme_id for p in after} == before  # old items keep their ids
    events = model.pop_events()
    births = [e for e in events if e.event_type == "birth" and e.theme.level == "fine"]
    assert len(births) == 1 and births[0].theme_id not in before
    resolved = {k: p for k, p in model.pop_resolved() if k.startswith("n")}
    # the first 100 waited in the buffer and were placed by the discovery round; the last 50 joined directly
    assert len(resolved) >= 95 and {p.theme_id for p in resolved.values()} == {births[0].theme_id}
    placed = [p.theme_id for p in model.predict(new_texts, new_x)]
    assert placed.count(births[0].theme_id) >= 0.95 * len(placed)
    assert "brandnew" in births[0].theme.keywords[0]


def test_far_items_stay_unassigned_and_the_buffer_is_bounded():
    texts, x, _, _ = blobs(5, 60)
    model = ThemeModel(empathy=False, buffer_size=50, min_discovery_size=10_000).fit(texts, x)
    noise = np.random.default_rng(5).normal(size=(200, DIM)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    assert all(p.theme_id is None for p in model.predict(["?"] * 200, noise))
    model.partial_fit(["?"] * 200, noise)
    assert model.unassigned_count == 50 and model.dropped_ == 150


def test_state_round_trip_and_a_follower_assign_like_the_learner():
    texts, x, _, _ = blobs(7, 40, seed=4)
    learner = ThemeModel(empathy=False).fit(texts, x)
    messages = [e.to_message() for e in learner.pop_events()]
    restored = ThemeModel.from_state(json.loads(json.dumps(learner.to_state())))
    follower = ThemeModel(empathy=False)
    for m in json.loads(json.dumps(messages)):
        follower.apply_event(m)
    expected = [p.theme_id for p in learner.predict(texts, x)]
    assert [p.theme_id for p in restored.predict(texts, x)] == expected
    assert [p.theme_id for p in follower.predict(texts, x)] == expected
    coarse = [p.coarse_theme_id for p in learner.predict(texts, x)]
    assert [p.coarse_theme_id for p in follower.predict(texts, x)] == coarse


def test_merged_theme_redirects_to_its_survivor():
    texts, x, _, _ = blobs(6, 40, seed=6)
    model = ThemeModel(empathy=False).fit(texts, x)
    model.pop_events()
    a, b = (t.theme_id for t in model.themes[:2])
    model.merge_threshold_ = -0.5  # force: every pair is "the same theme"
    model._merge_close()
    events = model.pop_events()
    merges = [e for e in events if e.event_type == "merge"]
    assert merges and all(e.theme.status == "merged" and e.related_theme_ids for e in merges)
    survivor = merges[0].related_theme_ids[0]
    assert model.registry.resolve(merges[0].theme_id) == survivor
    assert model.get_theme(merges[0].theme_id).theme_id == survivor
    assert {a, b} & {t.theme_id for t in model.themes}
    # what the stream's trend agent asks the learner for, and what a follower rebuilt from cx.themes knows
    from insights.learning import ThemeLearner

    follower = ThemeModel(empathy=False)
    for e in events:
        follower.apply_event(e.to_message())
    expected = {e.theme_id: e.related_theme_ids[0] for e in merges}
    assert ThemeLearner(model, None).merged_themes() == expected
    assert ThemeLearner(follower, None).merged_themes() == expected


def _around(direction: np.ndarray, n: int, rng: np.random.Generator, spread: float = 0.05) -> np.ndarray:
    v = direction + rng.normal(0, spread, (n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_a_theme_renamed_split_and_its_neighbours_retired_leave_their_lineage_in_the_store(sqlite_url):
    """A stream's life: one theme's feedback drifts to two new subjects (rename, then split: each half keeps
    its own words), the other themes fall silent (retire, with their coarse parents), and every event lands
    in the store as lineage rows and theme states. The split once gave the new theme its parent's terms (both
    halves had one label) and no last-seen time (it retired in the batch it was born in, once a stream had
    seen ``retire_after`` items), and coarse parents of retired themes stayed active with frozen sizes."""
    from insights.store import InsightStore
    from insights.store.models import ThemeEventRecord

    texts, x, y, centers = blobs(4, 60, seed=3)
    model = ThemeModel(empathy=False, retire_after=1500).fit(texts, x)
    events = model.pop_events()
    drifting = model.predict(texts[:1], x[:1])[0].theme_id
    silent = {p.theme_id for p in model.predict(texts[60:], x[60:])} - {None}
    rng = np.random.default_rng(1)
    side = rng.normal(size=DIM)
    side -= (side @ centers[0]) * centers[0]
    side /= np.linalg.norm(side)
    refund = 0.88 * centers[0] + np.sqrt(1 - 0.88**2) * side  # both halves still well inside the theme,
    blocked = 0.88 * centers[0] - np.sqrt(1 - 0.88**2) * side  # but as far from each other as distinct themes
    elsewhere = rng.normal(size=DIM)
    elsewhere /= np.linalg.norm(elsewhere)  # a new subject, so that outliers gather and discovery rounds run
    for _ in range(10):
        model.partial_fit(
            ["refund never arrived"] * 50 + ["card blocked abroad"] * 50 + ["app crashes on login"] * 60,
            np.vstack([_around(refund, 50, rng), _around(blocked, 50, rng), _around(elsewhere, 60, rng, 0.1)]),
        )
        events += model.pop_events()

    by_type = {}
    for e in events:
        by_type.setdefault(e.event_type, []).append(e)
    assert any(e.theme_id == drifting and "topic0" in e.reason for e in by_type["rename"])
    (split,) = by_type["split"]
    assert split.related_theme_ids == [drifting]
    halves = {model.get_theme(drifting).label, model.get_theme(split.theme_id).label}
    assert halves == {"refund never arrived", "blocked abroad"}, halves  # the negation stays
    assert split.theme_id in {t.theme_id for t in model.themes}  # born, not retired at once
    assert {e.theme_id for e in by_type["retire"] if e.theme.level == "fine"} == silent
    active = model.themes
    assert all(t.status == "active" for t in active)
    fine = [t for t in active if t.level == "fine"]
    coarse = [t for t in active if t.level == "coarse"]
    assert {t.parent_id for t in fine} == {t.theme_id for t in coarse}  # no coarse theme left without children
    for c in coarse:
        assert c.size == sum(t.size for t in fine if t.parent_id == c.theme_id)
    assert model.predict(texts[60:61], x[60:61])[0].theme_id is None  # a retired theme takes nothing

    store = InsightStore.from_url(sqlite_url)
    store.apply_theme_events([e.to_message() for e in events])
    assert store.count(ThemeEventRecord) == len(events)
    stored = {t.theme_id: t for t in store.themes(include_inactive=True)}
    assert {tid for tid, t in stored.items() if t.status == "retired" and t.level == "fine"} == silent
    assert {tid for tid, t in stored.items() if t.status == "active"} == {t.theme_id for t in active}
    assert stored[split.theme_id].label == model.get_theme(split.theme_id).label


def test_ids_are_never_reused_after_refit():
    texts, x, _, _ = blobs(4, 40)
    follower = ThemeModel(empathy=False)
    learner = ThemeModel(empathy=False).fit(texts, x)
    for e in learner.pop_events():
        follower.apply_event(e.to_message())
    n_fine = len([t for t in learner.themes if t.level == "fine"])
    assert follower.registry.new_id("fine") == f"t{n_fine + 1:04d}"


def test_themes_sharing_a_label_are_told_apart_by_a_word_the_others_lack():
    """Close siblings often share their top phrase (21 of 158 themes on Banking77 train did)."""
    labels = {"a": "exchange rate", "b": "exchange rate", "c": "exchange rate", "d": "card payment"}
    keywords = {
        "a": ["rate", "exchange rate", "wrong", "incorrect", "rate wrong"],
        "b": ["rate", "exchange rate", "wrong", "cash", "rate cash"],
        "c": ["rates", "exchange rates", "exchange rate", "foreign exchange", "calculated"],
        "d": ["card payment", "payment reverted"],
    }
    assert distinguish_labels(labels, keywords) == {
        "a": "exchange rate, incorrect",
        "b": "exchange rate, cash",
        "c": "exchange rate, foreign",  # not "rates": a plural of a word the label has
        "d": "card payment",  # unique labels are left alone
    }
    same = dict.fromkeys("abc", "late delivery")  # no word left to tell two of them apart: numbered
    words = {"a": ["late delivery", "driver"], "b": ["late delivery"], "c": ["late delivery"]}
    assert distinguish_labels(same, words) == {"a": "late delivery, driver", "b": "late delivery",
                                               "c": "late delivery (2)"}


@pytest.mark.parametrize("bad", [np.zeros((3, DIM)), np.zeros((2, DIM, 1))])
def test_embeddings_must_match_texts(bad):
    with pytest.raises(ValueError):
        ThemeModel(empathy=False).predict(["a", "b"], bad)


def test_ctfidf_prefers_terms_specific_to_a_theme():
    groups = {
        "a": count_terms(["the delivery was late", "late delivery again", "delivery driver was late"]),
        "b": count_terms(["the app crashes", "app crashes on login", "the app is slow"]),
    }
    kw = ctfidf_keywords(groups)
    assert kw["a"][0] in {"late", "delivery", "late delivery", "delivery late"}
    assert "app" in " ".join(kw["b"][:2])
    assert short_label(["late delivery", "driver"], "x") == "late delivery"
    assert short_label([], "t0001") == "t0001"


def test_a_negation_stays_with_the_word_it_negates():
    """Without it, praise ("super smooth, no complaints") was labelled "smooth complaints" and "refund hasn't
    arrived" counted as "refund arrived"."""
    assert terms_of("Super smooth, no complaints.") == [
        "super", "smooth", "no complaints", "super smooth", "smooth no complaints"
    ]
    assert "card not arrived" in terms_of("My card hasn't arrived yet")
    assert "never agreed" in terms_of("a fee I never agreed to")
    assert "no took" not in terms_of("no one took responsibility")  # only the word right after the negation
    groups = {
        "praise": count_terms(["Super smooth, no complaints.", "super smooth, no complaints!", "No complaints."]),
        "late": count_terms(["My parcel hasn't arrived", "parcel has not arrived yet", "parcel not arrived"]),
        "app": count_terms(["the app crashes", "app crashes on login", "the app is slow"]),
    }
    kw = ctfidf_keywords(groups)
    assert short_label(kw["praise"], "x") in {"no complaints", "smooth no complaints"}
    assert short_label(kw["late"], "x") in {"not arrived", "parcel not arrived"}


def test_words_that_only_frame_a_comment_are_not_what_it_is_about():
    """ "Not gonna lie, I was told ..." labelled a theme "lie told", which reads as "lied to"."""
    assert terms_of("Not gonna lie, I was told there is nothing we can do.") == ["told"]
    assert terms_of("Honestly, I have to say really happy with the help") == ["happy"]
    assert terms_of("Wow. To be honest, quick and easy!") == ["quick", "easy", "quick easy"]
    assert terms_of("They lied to me and I'm not gonna pay") == ["lied", "pay", "lied pay"]
    assert label_phrase("told", ["Not gonna lie, I was told to wait"]) == "told"

def test_a_keyword_pair_stays_inside_one_sentence_and_one_clause_keeps_its_negation():
    """ "couldn't log in. Fix this." made "not log fix" the top keyword of a theme about a missing 2FA code."""
    assert terms_of("Code never came so I couldn't log in. Fix this.") == [
        "code", "never came", "not log", "fix", "code never came", "never came not log"
    ]
    assert terms_of("Waited 40 minutes!\nSwitching providers") == [
        "waited", "minutes", "switching", "providers", "waited minutes", "switching providers"
    ]
    assert terms_of("No, the agent was great") == ["agent", "great", "agent great"]


def test_a_term_one_customer_used_never_outranks_one_many_used():
    """A tiny theme may show single mentions, but a typo or a name from one text is no label, however rare it is
    across the other themes (its c-TF-IDF score alone put "customer220" first here)."""
    groups = {
        "refund": count_terms(["refund please", "refund now", "refund. customer220 wrote"]),
        "late": count_terms(["refund? the delivery was late", "late delivery refund", "driver was late, refund"]),
        "app": count_terms(["the app crashes, refund", "app crashes refund", "the app is slow refund"]),
        "fee": count_terms(["fee refund", "fee charged refund", "another fee refund"]),
    }
    kw = ctfidf_keywords(groups)
    assert kw["refund"][0] == "refund"
    assert "customer220" in kw["refund"]  # still shown: in a tiny theme single mentions are what there is


def test_a_label_reads_as_the_customers_wrote_it():
    """Keyword pairs drop the little words ("verify identity", "reading script"); the quotes still have them."""
    quotes = ["Why do I need to verify my identity?", "verify the identity of who?", "I can't verify my identity"]
    assert label_phrase("verify identity", quotes) == "verify my identity"  # the phrase most quotes share
    assert label_phrase("not listen", ["They didn't listen at all.", "rude"]) == "didn't listen"
    assert label_phrase("reading script", ["Sounded like they were Reading from a script."]) == "reading from a script"
    assert label_phrase("uk card", ["I live in the UK, can I still get a card?"]) == "uk card"  # not across a clause
    assert label_phrase("billed quoted", ["Got billed $20 more than the quoted price"]) == "billed quoted"
    assert label_phrase("late delivery", ["the app crashes"]) == "late delivery"  # not in the quotes
    assert label_phrase("balance, top", ["top up my balance"]) == "balance, top"  # two keywords, no phrase
    assert short_label(["good", "not listen", "no comment"], "x") == "good, not listen"  # a negated word is a word
    assert label_phrase("good, not listen", ["good", "They didn't listen"]) == "good, didn't listen"
    assert label_words("card isn't working, abroad") == {"card", "not", "working", "abroad"}


def test_a_fitted_theme_gets_the_phrase_and_keeps_it_while_its_keywords_hold():
    texts, x, _, _ = blobs(3, 60)
    wording = ["I need to verify my identity", "how do I verify my identity", "app crashes on login",
               "the app crashes on login", "my parcel is late", "parcel was late again"]
    texts = [wording[2 * (i // 60) + i % 2] for i in range(len(texts))]
    model = ThemeModel(empathy=False).fit(texts, x)
    labels = {t.label for t in model.themes if t.level == "fine"}
    assert labels == {"verify my identity", "app crashes", "parcel is late"}, labels
    before = [e for e in model.pop_events() if e.event_type == "rename"]
    model.partial_fit(texts[:120], x[:120])
    assert {t.label for t in model.themes if t.level == "fine"} == labels
    assert not before and not [e for e in model.pop_events() if e.event_type == "rename"]


def test_buffered_outliers_hold_only_their_own_rows():
    """An outlier waits in the buffer for many batches; it must not keep its whole batch's array alive (a buffer
    of outliers from thousands of batches held thousands of batches: the worker's RSS kept growing)."""
    texts, x, _, _ = blobs(5, 60)
    model = ThemeModel(empathy=False, min_discovery_size=10_000).fit(texts, x)
    rng = np.random.default_rng(6)
    for _ in range(20):  # one far item in each batch of 100 near ones
        far = rng.normal(size=(1, DIM)).astype(np.float32)
        model.partial_fit(["?"] + texts[:100], np.vstack([far / np.linalg.norm(far), x[:100]]))
    rows = [row for _, _, row in model.buffer]
    assert len(rows) >= 20
    assert bytes_held(rows) <= len(rows) * DIM * 4 * 1.01


def test_copies_of_one_text_are_one_theme_however_many():
    """2,000 copies of one comment once came out as 7 themes: among identical neighbours a kNN graph's order is
    arbitrary (here, without the fix, 3 themes)."""
    rng = np.random.default_rng(5)
    copy = rng.normal(size=24)
    centres = rng.normal(size=(4, 24))
    others = centres[rng.integers(0, 4, 200)] + rng.normal(0, 0.15, (200, 24))
    x = np.vstack([others, np.repeat(copy[None], 2_000, axis=0)])
    texts = [f"other {i}" for i in range(200)] + ["The app keeps crashing"] * 2_000
    preds = ThemeModel(empathy=False).fit_predict(texts, x)
    assert len({p.theme_id for p in preds[200:]}) == 1 and preds[200].theme_id is not None


def test_a_theme_without_content_words_is_labelled_by_its_comment_not_its_id():
    rng = np.random.default_rng(6)
    centres = rng.normal(size=(4, 24))
    x = np.vstack([centres[rng.integers(0, 4, 300)] + rng.normal(0, 0.15, (300, 24)),
                   np.repeat(rng.normal(size=24)[None], 300, axis=0)])
    texts = [f"late delivery number {i % 7}" for i in range(300)] + ["N/A", "n/a ", "N/A."] * 100
    preds = ThemeModel(empathy=False).fit_predict(texts, x)
    assert {p.theme_label for p in preds[300:]} == {"N/A"}


def test_empathy_categories_come_apart_only_in_a_cluster_no_one_value_holds():
    from insights.themes.discovery import Clustering, empathy_apart

    mixed = ["rude"] * 12 + ["rushed"] * 10 + [None] * 14 + ["robotic"] * 3  # none holds 40% of 39
    held = ["no_follow_up"] * 12 + [None] * 30  # "not empathy" holds 71%: a few flags in a topic stay
    labels = np.array([0] * len(mixed) + [1] * len(held))
    out = empathy_apart(Clustering(labels, np.ones(len(labels), bool)), mixed + held, min_size=8, share=0.4)
    cats = np.array([c or "" for c in mixed + held], dtype=object)
    groups = {c: set(out.labels[cats == c]) for c in ("rude", "rushed")}
    assert len(groups["rude"]) == len(groups["rushed"]) == 1 and groups["rude"] != groups["rushed"]
    rest = set(out.labels[: len(mixed)][(cats[: len(mixed)] == "") | (cats[: len(mixed)] == "robotic")])
    assert len(rest) == 1 and rest.isdisjoint(groups["rude"] | groups["rushed"])  # 3 robotic: below min_size
    assert len(set(out.labels[len(mixed):])) == 1 and out.n_clusters == 4
