"""ThemeModel: batch discovery (fit), streaming updates (partial_fit) and assignment (predict) of themes.

The stream assigns each item to the nearest theme when it is close enough (a threshold calibrated on the
discovered themes) and buffers the rest. When the buffer has grown enough, a discovery round clusters it;
each new cluster either continues an existing theme (its centroid is as close as themes that discovery would
not separate) or is born as a new theme. Merges, splits, renames and retirements follow, each as a lineage
event. Memory is bounded: the buffer, the per-theme statistics and the number of themes all have caps.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any, Protocol

import numpy as np

from insights.themes.coarse import group_fine_themes, match_groups
from insights.themes.discovery import (
    Clustering,
    DiscoveryParams,
    cluster_embeddings,
    empathy_apart,
    same_text_same_cluster,
)
from insights.themes.empathy import EmpathyMatcher
from insights.themes.keywords import (
    count_terms,
    ctfidf_keywords,
    distinguish_labels,
    label_phrase,
    label_words,
    prune,
    representative_quotes,
    short_label,
)
from insights.themes.refine import StreamSample, plan_splits
from insights.themes.registry import ThemeRegistry
from insights.themes.stats import ThemeStats
from insights.themes.types import Theme, ThemeEvent, ThemePrediction, decode_array, encode_array

log = logging.getLogger(__name__)

STATE_VERSION = 1
LABEL_QUOTE_CHARS = 40


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class ThemeModel:
    """Discover, follow and assign feedback themes (scikit-learn shape: fit / partial_fit / predict).

    Parameters are optional and scale with the data: there is no number of themes to choose.
    ``outlier_quantile`` is the share of discovered members allowed below the assignment threshold (it sets
    how far from a theme an item may be and still join it); ``buffer_size`` caps the unassigned items kept
    for the next discovery round; ``min_discovery_size`` is how many buffered items start a round.
    ``sample_size`` bounds the uniform sample of everything learnt that a refinement round re-clusters to split
    broad streaming themes, whenever the sample holds twice the items the themes were found in; 0 turns it off.
    """

    def __init__(
        self,
        embedder: TextEncoder | None = None,
        *,
        empathy: EmpathyMatcher | bool | None = None,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        n_neighbors: int | None = None,
        n_components: int = 30,
        outlier_quantile: float = 0.01,
        buffer_size: int = 5000,
        min_discovery_size: int = 500,
        max_discovery_size: int = 20000,
        max_themes: int = 1000,
        retire_after: int = 200_000,
        reservoir_size: int = 48,
        empathy_share: float = 0.4,
        update_growth: float = 0.2,
        sample_size: int = 5000,
        random_state: int = 0,
    ) -> None:
        self.embedder = embedder
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.outlier_quantile = outlier_quantile
        self.buffer_size = buffer_size
        self.min_discovery_size = min_discovery_size
        self.max_discovery_size = max_discovery_size
        self.max_themes = max_themes
        self.retire_after = retire_after
        self.reservoir_size = reservoir_size
        self.empathy_share = empathy_share
        self.update_growth = update_growth
        self.sample_size = sample_size
        self.random_state = random_state
        self._empathy_arg = empathy
        self._empathy: EmpathyMatcher | None = empathy if isinstance(empathy, EmpathyMatcher) else None
        self._reset()

    # -- setup ----------------------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.registry = ThemeRegistry()
        self.stats: dict[str, ThemeStats] = {}
        self.buffer: deque[tuple[str, str, np.ndarray]] = deque(maxlen=self.buffer_size)
        self.threshold_: float | None = None
        self.match_threshold_: float = 0.8
        self.merge_threshold_: float = 0.95
        self.seen_ = 0
        self.dropped_ = 0
        self.discovery_rounds_ = 0
        self.refinement_rounds_ = 0
        self.sample = StreamSample(self.sample_size)
        self.fitted_on_ = 0  # items the current themes were discovered (or refined) in
        self.refinable_ = False  # only themes the stream found itself, from its first few hundred items
        self._last_round_buffer = 0
        self._added_since_round = 0
        self._resolved: list[tuple[str, ThemePrediction]] = []
        self._auto_id = 0
        self._births: list[tuple[str, str, list[str]]] = []  # born, waiting for a label before their event
        self._resolved_pending: list[tuple[int, str]] = []
        self._resolved_items: tuple[list, np.ndarray | None, list] = ([], None, [])
        self._followed_births = False  # themes arrived from cx.themes since the buffer was last checked
        self._rng = np.random.default_rng(self.random_state)
        self.labels_: list[str | None] = []

    @property
    def params(self) -> DiscoveryParams:
        return DiscoveryParams(
            min_cluster_size=self.min_cluster_size,
            min_samples=self.min_samples,
            n_neighbors=self.n_neighbors,
            n_components=self.n_components,
            random_state=self.random_state,
        )

    @property
    def empathy(self) -> EmpathyMatcher | None:
        """The empathy matcher, built from the embedder on first use (None when disabled or impossible)."""
        if self._empathy is None and self._empathy_arg is not False and self.embedder is not None:
            self._empathy = EmpathyMatcher(self.embedder)
        return self._empathy

    def _embed(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray:
        if embeddings is None:
            if self.embedder is None:
                raise ValueError("pass embeddings or give the model an embedder")
            embeddings = self.embedder.encode(list(texts))
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or len(x) != len(texts):
            raise ValueError(f"expected {len(texts)} embedding rows, got shape {x.shape}")
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norms > 0, norms, 1.0)

    def _ids(self, ids: Sequence[str] | None, n: int) -> list[str]:
        if ids is not None:
            if len(ids) != n:
                raise ValueError("ids and texts differ in length")
            return [str(i) for i in ids]
        out = [f"item-{self._auto_id + i}" for i in range(n)]
        self._auto_id += n
        return out

    def _classify(self, x: np.ndarray) -> list[tuple[str | None, float]]:
        matcher = self.empathy
        return matcher.classify(x) if matcher is not None else [(None, 0.0)] * len(x)

    # -- public reads ---------------------------------------------------------------------------------------
    @property
    def themes(self) -> list[Theme]:
        """Active themes, fine then coarse, largest first."""
        active = self.registry.active("fine") + self.registry.active("coarse")
        return sorted(active, key=lambda t: (t.level != "fine", -t.size, t.theme_id))

    @property
    def inactive_themes(self) -> list[Theme]:
        """Recently merged or retired themes (bounded)."""
        return list(self.registry.inactive)

    @property
    def unassigned_count(self) -> int:
        """Items waiting in the buffer for a discovery round."""
        return len(self.buffer)

    def get_theme(self, theme_id: str) -> Theme | None:
        return self.registry.get(self.registry.resolve(theme_id))

    def pop_events(self) -> list[ThemeEvent]:
        """Lineage events since the last call (publish them to cx.themes)."""
        return self.registry.pop_events()

    def pop_resolved(self) -> list[tuple[str, ThemePrediction]]:
        """Buffered items that a discovery round has assigned since the last call."""
        out, self._resolved = self._resolved, []
        return out

    def apply_event(self, message: dict[str, Any]) -> None:
        """Follow a cx.themes message: a follower then assigns against the same themes as the learner."""
        theme = self.registry.apply_message(message)
        if "assign_threshold" in message and message["assign_threshold"] is not None:
            self.threshold_ = float(message["assign_threshold"])
        if theme.status != "active":
            self.stats.pop(theme.theme_id, None)
        elif theme.level == "fine" and theme.theme_id not in self.stats:
            # a follower (or a learner seeded from the registry) must be able to partial_fit later
            self.stats[theme.theme_id] = self._stats_from_theme(theme)
            self.refinable_ = False  # seeded themes are mature, and their trend baselines rely on them
            self._followed_births = True

    # -- predict --------------------------------------------------------------------------------------------
    def predict(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> list[ThemePrediction]:
        """Nearest active theme when close enough (else unassigned), with the empathy category."""
        x = self._embed(texts, embeddings)
        if len(x) == 0:
            return []
        empathy = self._classify(x)
        ids, matrix = self.registry.centroid_matrix()
        if not ids or self.threshold_ is None:
            return [ThemePrediction(None, None, cat, 0.0, empathy_score=s) for cat, s in empathy]
        sims = x @ matrix.T
        best = sims.argmax(axis=1)
        best_sims = sims[np.arange(len(x)), best]
        return [
            self._prediction(ids[b] if s >= self.threshold_ else None, float(s), cat, es)
            for b, s, (cat, es) in zip(best, best_sims, empathy, strict=True)
        ]

    def _prediction(self, theme_id: str | None, sim: float, item_cat: str | None, item_score: float) -> ThemePrediction:
        theme = self.registry.get(theme_id)
        if theme is None:
            return ThemePrediction(None, None, item_cat, sim, empathy_score=item_score)
        parent = self.registry.get(theme.parent_id)
        return ThemePrediction(
            theme_id=theme.theme_id,
            theme_label=theme.label,
            empathy_category=item_cat or theme.empathy_category,
            similarity=sim,
            coarse_theme_id=parent.theme_id if parent else None,
            coarse_theme_label=parent.label if parent else None,
            empathy_score=item_score,
            theme_empathy_category=theme.empathy_category,
        )

    # -- fit ------------------------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], embeddings: np.ndarray | None = None, ids: Sequence[str] | None = None):
        """Discover themes in a batch (starting afresh). ``labels_`` holds each item's theme id or None."""
        self.fit_predict(texts, embeddings, ids)
        return self

    def fit_predict(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None, ids: Sequence[str] | None = None
    ) -> list[ThemePrediction]:
        """Like :meth:`fit`, returning the discovery's own assignment of every item."""
        self._reset()
        x = self._embed(texts, embeddings)
        item_ids = self._ids(ids, len(x))
        texts = list(texts)
        n = len(x)
        self.seen_ = n
        self.fitted_on_ = n
        empathy = self._classify(x)
        if n > self.max_discovery_size:
            sample = np.sort(self._rng.choice(n, self.max_discovery_size, replace=False))
        else:
            sample = np.arange(n)
        clustering = same_text_same_cluster([texts[i] for i in sample], cluster_embeddings(x[sample], self.params))
        clustering = self._empathy_apart(clustering, [empathy[i][0] for i in sample])
        labels = np.full(n, -1)
        labels[sample] = clustering.labels
        theme_of_label = self._found_themes(x, texts, labels, empathy, clustering, sample)
        assigned = self._assign_rest(x, labels, theme_of_label)
        self._describe(set(self.stats))
        self._rebuild_coarse()
        preds: list[ThemePrediction] = []
        for i in range(n):
            tid, sim = assigned[i]
            preds.append(self._prediction(tid, sim, *empathy[i]))
            if tid is None:
                self._buffer_item(item_ids[i], texts[i], x[i])
        self.labels_ = [p.theme_id for p in preds]
        self._last_round_buffer = len(self.buffer)
        self._added_since_round = 0
        self.discovery_rounds_ = 1
        return preds

    def _empathy_apart(self, clustering: Clustering, categories: list[str | None]) -> Clustering:
        """Empathy categories apart inside clusters that no one category holds (see :func:`empathy_apart`)."""
        if not any(categories):
            return clustering
        n = len(categories)
        return empathy_apart(clustering, categories, self.params.resolved_min_cluster_size(n), self.empathy_share)

    def _found_themes(
        self,
        x: np.ndarray,
        texts: list[str],
        labels: np.ndarray,
        empathy: list[tuple[str | None, float]],
        clustering: Clustering,
        sample: np.ndarray,
    ) -> dict[int, str]:
        """Birth a theme per cluster and calibrate the thresholds on them."""
        theme_of_label: dict[int, str] = {}
        member_sims: list[np.ndarray] = []
        for c in range(clustering.n_clusters):
            idx = np.flatnonzero(labels == c)
            tid = self._birth(x[idx], [texts[i] for i in idx], [empathy[i][0] for i in idx])
            theme_of_label[c] = tid
            member_sims.append(x[idx] @ self.registry.get(tid).centroid)
        if member_sims:
            self._calibrate(np.concatenate(member_sims))
        return theme_of_label

    def _assign_rest(
        self, x: np.ndarray, labels: np.ndarray, theme_of_label: dict[int, str]
    ) -> list[tuple[str | None, float]]:
        """Theme and similarity of each item: its cluster's theme, else the nearest one if close enough."""
        out: list[tuple[str | None, float]] = []
        ids, matrix = self.registry.centroid_matrix()
        rest = np.flatnonzero(labels < 0)
        nearest: dict[int, tuple[str | None, float]] = {}
        if len(ids) and len(rest):
            sims = x[rest] @ matrix.T
            best = sims.argmax(axis=1)
            for i, b, s in zip(rest, best, sims[np.arange(len(rest)), best], strict=True):
                nearest[int(i)] = (ids[b], float(s)) if s >= (self.threshold_ or 1.0) else (None, float(s))
        for i in range(len(x)):
            if labels[i] >= 0:
                tid = theme_of_label[int(labels[i])]
                out.append((tid, float(x[i] @ self.registry.get(tid).centroid)))
            else:
                out.append(nearest.get(i, (None, 0.0)))
        late = [(i, tid) for i, (tid, _) in nearest.items() if tid is not None]
        for i, tid in late:
            self.stats[tid].count += 1
            self.stats[tid].vec_sum += x[i]
        return out

    def _calibrate(self, member_sims: np.ndarray, assign: bool = True) -> None:
        """Thresholds from the data: assignment (unless ``assign`` is False), "same theme" matching and merging."""
        if assign:
            self.threshold_ = float(np.quantile(member_sims, self.outlier_quantile))
            self.registry.extra["assign_threshold"] = self.threshold_
        ids, matrix = self.registry.centroid_matrix()
        # a new cluster continues a theme when its centre is closer to it than half the theme's own members
        # are, and closer than 95% of the neighbouring themes discovery kept apart
        typical_member = float(np.median(member_sims))
        self.match_threshold_ = typical_member
        if len(ids) >= 5:
            sims = matrix @ matrix.T
            np.fill_diagonal(sims, -1.0)
            nearest = sims.max(axis=1)
            self.match_threshold_ = max(typical_member, float(np.quantile(nearest, 0.95)))
            self.merge_threshold_ = float(min(0.99, max(self.match_threshold_, nearest.max()) + 0.01))

    # -- partial_fit ----------------------------------------------------------------------------------------
    def partial_fit(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None, ids: Sequence[str] | None = None
    ) -> ThemeModel:
        """Learn from a batch of the stream: assign what fits, buffer the rest, discover when the buffer is ready."""
        x = self._embed(texts, embeddings)
        item_ids = self._ids(ids, len(x))
        texts = list(texts)
        if len(x) == 0:
            return self
        self.place_buffered()
        self.seen_ += len(x)
        if self.refinable_ or not self.stats:  # fitted or seeded themes are never refined: no sample to keep
            self.sample.offer(texts, x, self._rng)
        ids_, matrix = self.registry.centroid_matrix()
        if ids_ and self.threshold_ is not None and self.stats:
            empathy = self._classify(x)
            sims = x @ matrix.T
            best = sims.argmax(axis=1)
            best_sims = sims[np.arange(len(x)), best]
            ok = best_sims >= self.threshold_
            for b in np.unique(best[ok]):
                tid = ids_[b]
                if tid not in self.stats:
                    self.stats[tid] = self._stats_from_theme(self.registry.get(tid))
                rows = np.flatnonzero(ok & (best == b))
                self._absorb(tid, x[rows], [texts[i] for i in rows], best_sims[rows], [empathy[i][0] for i in rows])
            for i in np.flatnonzero(~ok):
                self._buffer_item(item_ids[i], texts[i], x[i])
        else:
            for i in range(len(x)):
                self._buffer_item(item_ids[i], texts[i], x[i])
        if self._buffer_ready():
            self._discovery_round()
        if self._refine_ready():
            self._refinement_round()
        self._publish_growth()
        self._retire_stale()
        return self

    def place_buffered(self) -> int:
        """Place buffered items in themes that arrived from cx.themes since (a seed, an earlier learner's rounds);
        returns how many were placed (0 at once when no theme arrived).

        A learner that started before the registry was seeded buffers what it cannot place; once the seed is
        applied, most of those items fit a seeded theme, yet they would wait for a discovery round that a seeded
        stream, whose few outliers fill the buffer slowly, may never run. Placed here, they come out of
        :meth:`pop_resolved` like items a discovery round placed, so the learner re-assigns them.
        """
        if not self._followed_births:
            return 0
        self._followed_births = False
        if not self.buffer:
            return 0
        items = list(self.buffer)
        x = np.stack([it[2] for it in items])
        texts = [it[1] for it in items]
        empathy = self._classify(x)
        placed = np.full(len(items), None, dtype=object)
        self._place_leftovers(x, texts, empathy, placed, set())
        count = sum(p is not None for p in placed)
        if count:
            self._resolve_buffer(items, x, placed, empathy)
            self._flush_resolved()
            log.info("placed %d buffered items in themes read from the registry", count)
        return count

    def _buffer_item(self, item_id: str, text: str, x: np.ndarray) -> None:
        self._added_since_round += 1
        if len(self.buffer) == self.buffer.maxlen:
            self.dropped_ += 1
        # A copy, not a view: a row of the batch's array would keep the whole batch alive while the item waits,
        # and a buffer of outliers from thousands of batches then held thousands of batches (RSS kept growing).
        self.buffer.append((item_id, text, np.array(x, dtype=np.float32, copy=True)))

    def _buffer_ready(self) -> bool:
        """Enough new outliers since the last round: the buffer grew by half, or (when full) turned over by half."""
        n = len(self.buffer)
        if n < self.min_discovery_size:
            return False
        return n >= 1.5 * self._last_round_buffer or self._added_since_round >= max(self.min_discovery_size, n // 2)

    def _stats_from_theme(self, theme: Theme) -> ThemeStats:
        """Statistics for a theme learnt from events (a follower promoted to learner)."""
        st = ThemeStats.empty(len(theme.centroid))
        st.vec_sum = theme.centroid.astype(np.float64) * max(theme.size, 1)
        st.count = theme.size
        st.quote_pool = [(1.0, q) for q in theme.quotes]
        st.published_size = theme.size
        return st

    def _absorb(
        self, tid: str, x: np.ndarray, texts: list[str], sims: np.ndarray, empathy: list[str | None]
    ) -> None:
        st = self.stats[tid]
        st.add(x, texts, sims, empathy, self.seen_, self._rng, self.reservoir_size)
        theme = self.registry.get(tid)
        theme.centroid = st.centroid
        theme.size = st.count
        self.registry.invalidate()

    def _birth(
        self,
        x: np.ndarray,
        texts: list[str],
        empathy: list[str | None],
        event_type: str = "birth",
        related: list[str] | None = None,
    ) -> str:
        tid = self.registry.new_id("fine")
        st = ThemeStats.empty(x.shape[1])
        centroid = x.mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        st.add(x, texts, x @ centroid, empathy, self.seen_, self._rng, self.reservoir_size)
        st.published_size = st.count
        st.checked_size = st.count
        self.stats[tid] = st
        theme = Theme(theme_id=tid, centroid=st.centroid, size=st.count)
        self.registry.add(theme)
        self._births.append((tid, event_type, related or []))
        return tid

    def _discovery_round(self) -> None:
        """Cluster the buffer; continue existing themes or birth new ones; then merge, split, relabel."""
        items = list(self.buffer)
        x = np.stack([it[2] for it in items])
        texts = [it[1] for it in items]
        empathy = self._classify(x)
        # A streaming round clusters only the buffer of outliers and runs often beside the embedding model, so
        # it runs the chain once; the consensus of several runs (about +0.005 NMI on Banking77 for 3x the time) is kept
        # for fit, the batch discovery.
        clustering = same_text_same_cluster(texts, cluster_embeddings(x, replace(self.params, ensemble_scales=(1.0,))))
        clustering = self._empathy_apart(clustering, [c for c, _ in empathy])
        self.discovery_rounds_ += 1
        first = not self.stats
        if first:
            self.fitted_on_, self.refinable_ = len(items), True
        touched: set[str] = set()
        placed = np.full(len(items), None, dtype=object)
        for c in range(clustering.n_clusters):
            idx = np.flatnonzero(clustering.labels == c)
            centroid = x[idx].mean(axis=0)
            centroid /= np.linalg.norm(centroid) or 1.0
            if self.threshold_ is not None:  # the neighbour vote may drag in far items: they wait for later
                idx = idx[x[idx] @ centroid >= self.threshold_]
                if len(idx) < 2:
                    continue
                centroid = _unit(x[idx].mean(axis=0)).astype(np.float32)
            ids_, matrix = self.registry.centroid_matrix()
            target = None
            if ids_:
                sims = matrix @ centroid
                b = int(sims.argmax())
                if sims[b] >= self.match_threshold_:
                    target = ids_[b]
            if target is None:
                target = self._birth(x[idx], [texts[i] for i in idx], [empathy[i][0] for i in idx])
            else:
                self._absorb(target, x[idx], [texts[i] for i in idx], x[idx] @ centroid, [empathy[i][0] for i in idx])
                touched.add(target)
            placed[idx] = target
        if first and self.stats:
            sims = [x[placed == tid] @ self.registry.get(tid).centroid for tid in self.stats]
            self._calibrate(np.concatenate(sims))
        self._place_leftovers(x, texts, empathy, placed, touched)
        self._resolve_buffer(items, x, placed, empathy)
        changed = self._merge_close() | self._split_wide()
        self._describe(touched | {t for t, _, _ in self._births} | changed)
        self._rebuild_coarse()
        self._last_round_buffer = len(self.buffer)
        self._added_since_round = 0

    def _place_leftovers(
        self, x: np.ndarray, texts: list[str], empathy: list, placed: np.ndarray, touched: set[str]
    ) -> None:
        """Buffered items no cluster took: the nearest theme (old or new) when close enough."""
        rest = np.flatnonzero(placed == None)  # noqa: E711 - object array comparison
        ids_, matrix = self.registry.centroid_matrix()
        if not len(rest) or not ids_ or self.threshold_ is None:
            return
        sims = x[rest] @ matrix.T
        best = sims.argmax(axis=1)
        best_sims = sims[np.arange(len(rest)), best]
        for b in np.unique(best[best_sims >= self.threshold_]):
            sel = (best == b) & (best_sims >= self.threshold_)
            rows = rest[sel]
            self._absorb(ids_[b], x[rows], [texts[i] for i in rows], best_sims[sel], [empathy[i][0] for i in rows])
            placed[rows] = ids_[b]
            touched.add(ids_[b])

    def _resolve_buffer(self, items: list, x: np.ndarray, placed: np.ndarray, empathy: list) -> None:
        """Take placed items out of the buffer and report them through :meth:`pop_resolved`."""
        keep: deque[tuple[str, str, np.ndarray]] = deque(maxlen=self.buffer_size)
        pending: list[tuple[int, str]] = []
        for i, item in enumerate(items):
            if placed[i] is None:
                keep.append(item)
            else:
                pending.append((i, placed[i]))
        self.buffer = keep
        self._resolved_pending = pending
        self._resolved_items = (items, x, empathy)

    def _flush_resolved(self) -> None:
        """Predictions for resolved items, made after relabelling so they carry the final labels."""
        pending = self._resolved_pending
        if not pending:
            return
        items, x, empathy = self._resolved_items
        for i, tid in pending:
            tid = self.registry.resolve(tid)
            theme = self.registry.get(tid)
            sim = float(x[i] @ theme.centroid) if theme is not None else 0.0
            self._resolved.append((items[i][0], self._prediction(tid, sim, *empathy[i])))
        self._resolved_pending = []
        self._resolved_items = ([], None, [])

    # -- refinement -----------------------------------------------------------------------------------------
    def _refine_ready(self) -> bool:
        """Refine while the sample holds twice the items the themes were found in: a stream's first themes come
        from a few hundred items and are refined at 1k, 2k and 4k. Themes from a batch fit (``insights discover``)
        or from a seeded registry (``insights seed``) are mature and are left alone: re-partitioning them would
        also move items between themes whose trend baselines were counted the old way (spurious alerts)."""
        return (
            self.refinable_
            and self.sample_size > 0
            and bool(self.stats)
            and self.threshold_ is not None
            and len(self.sample) >= max(2 * self.fitted_on_, self.min_discovery_size)
        )

    def _refinement_round(self) -> None:
        """Re-cluster the sample of everything learnt and split the themes it finds several groups inside."""
        x = self.sample.embeddings()
        self.fitted_on_ = len(x)
        ids_, matrix = self.registry.centroid_matrix()
        if not ids_:
            return
        self.refinement_rounds_ += 1
        clustering = same_text_same_cluster(
            self.sample.texts, cluster_embeddings(x, replace(self.params, ensemble_scales=(1.0,)))
        )
        sims = x @ matrix.T
        current = sims.argmax(axis=1)
        current[sims[np.arange(len(x)), current] < self.threshold_] = -1
        splits = plan_splits(clustering.labels, current, self.params.resolved_min_cluster_size(len(x)))
        by_theme: dict[int, list[np.ndarray]] = {}
        for split in splits:
            if ids_[split.theme] in self.stats:
                by_theme.setdefault(split.theme, []).append(split.members)
        changed: set[str] = set()
        for theme, parts in by_theme.items():
            changed |= self._split_theme(ids_[theme], x, np.flatnonzero(current == theme), parts)
        log.info(
            "refinement over %d sampled items: %d clusters, %d themes split into %d new ones",
            len(x), clustering.n_clusters, len(by_theme), sum(len(p) for p in by_theme.values()),
        )
        if changed:
            # the themes just kept apart must not count as "closer than any pair discovery kept apart" (a merge)
            ids_, matrix = self.registry.centroid_matrix()
            self._calibrate((x @ matrix.T).max(axis=1), assign=False)
            self._describe(changed)
            self._rebuild_coarse()

    def _split_theme(self, tid: str, x: np.ndarray, members: np.ndarray, parts: list[np.ndarray]) -> set[str]:
        """Give each part of a theme's sampled ``members`` a theme of its own; the rest keeps ``tid``.

        Sizes are the parts' shares of the theme's count (the sample sees only some of its members); the theme's
        centroid, terms and member reservoir keep only what stays, so it does not pull the new themes' feedback
        back, nor split them off again.
        """
        parent = self.stats[tid]
        texts = self.sample.texts
        new_ids: list[str] = []
        moved_parts: list[np.ndarray] = []
        for part in parts:
            moved = min(parent.count - 1, round(len(part) / len(members) * parent.count))
            if moved < 1:
                continue
            part_texts = [texts[i] for i in part]
            child_id = self._birth(x[part], part_texts, [c for c, _ in self._classify(x[part])], "split", [tid])
            child = self.stats[child_id]
            child.vec_sum = child.centroid.astype(np.float64) * moved
            child.count = child.published_size = child.checked_size = moved
            parent.count -= moved
            parent.terms = prune(parent.terms - count_terms(part_texts))
            new_ids.append(child_id)
            moved_parts.append(part)
        if not new_ids:
            return set()
        stay = np.setdiff1d(members, np.concatenate(moved_parts))
        centroid = _unit(x[stay].mean(axis=0)) if len(stay) else _unit(parent.vec_sum)
        parent.vec_sum = centroid * parent.count
        parent.checked_size = parent.count
        parent.drop_quotes([texts[i] for part in moved_parts for i in part])
        if parent.reservoir is not None and len(parent.reservoir):
            centroids = np.stack([centroid] + [self.stats[c].centroid for c in new_ids])
            parent.keep_reservoir((parent.reservoir.astype(np.float32) @ centroids.T).argmax(axis=1) == 0)
        theme = self.registry.get(tid)
        theme.centroid, theme.size = parent.centroid, parent.count
        self.registry.invalidate()
        return {tid, *new_ids}

    def _merge_close(self) -> set[str]:
        """Merge active themes whose centroids came closer than any pair discovery kept apart."""
        changed: set[str] = set()
        ids_, matrix = self.registry.centroid_matrix()
        if len(ids_) < 2:
            return changed
        sims = matrix @ matrix.T
        np.fill_diagonal(sims, -1.0)
        gone: set[str] = set()
        for a, b in zip(*np.nonzero(np.triu(sims >= self.merge_threshold_, k=1)), strict=True):
            ta, tb = ids_[a], ids_[b]
            if ta in gone or tb in gone:
                continue
            keep, drop = (ta, tb) if self.stats[ta].count >= self.stats[tb].count else (tb, ta)
            self.stats[keep].merge_from(self.stats.pop(drop))
            survivor = self.registry.get(keep)
            survivor.centroid = self.stats[keep].centroid
            survivor.size = self.stats[keep].count
            absorbed = self.registry.get(drop)
            absorbed.status = "merged"
            absorbed.parent_id = None
            self.registry.redirect[drop] = keep
            self.registry.emit(absorbed, "merge", [keep], reason=f"merged into {keep} (centroid similarity)")
            changed.add(keep)
            gone.add(drop)
        return changed

    def _split_wide(self) -> set[str]:
        """Split a theme whose member sample holds two groups as far apart as distinct themes."""
        changed: set[str] = set()
        for tid, st in list(self.stats.items()):
            res = st.reservoir
            if res is None or len(res) < self.reservoir_size or st.count < 2 * st.checked_size:
                continue
            st.checked_size = st.count
            sample = res.astype(np.float32)
            parts = _two_means(sample, self._rng)
            if parts is None:
                continue
            a, b = parts
            ca, cb = (_unit(sample[a].mean(axis=0)), _unit(sample[b].mean(axis=0)))
            if min(a.sum(), b.sum()) < 0.3 * len(sample) or float(ca @ cb) >= self.match_threshold_ - 0.2:
                continue
            minor = b if a.sum() >= b.sum() else a
            moved = int(round(minor.sum() / len(sample) * st.count))
            child = st.split_off(minor, moved, self.seen_, [c for c, _ in self._classify(sample[minor])])
            new_id = self.registry.new_id("fine")
            self.stats[new_id] = child
            parent = self.registry.get(tid)
            parent.centroid, parent.size = st.centroid, st.count
            self.registry.add(Theme(theme_id=new_id, centroid=child.centroid, size=moved))
            self._births.append((new_id, "split", [tid]))
            changed.add(tid)
        return changed

    def _publish_growth(self) -> None:
        """An "update" event for themes that grew by ``update_growth`` since last published (bounded traffic)."""
        grown = [t for t, st in self.stats.items() if st.count >= (1 + self.update_growth) * max(st.published_size, 1)]
        if grown:
            self._describe(set(grown), quiet=True)  # one c-TF-IDF pass over all themes, not one per grown theme
        for tid in grown:
            self.stats[tid].published_size = self.stats[tid].count
            self.registry.emit(self.registry.get(tid), "update", reason="grew")
        if grown:
            self._refresh_coarse_sizes({self.registry.get(t).parent_id for t in grown} - {None})
        self._flush_resolved()

    def _refresh_coarse_sizes(self, coarse_ids: set[str]) -> None:
        """Keep coarse themes' sizes and centroids in step with their growing children (an "update" when one
        grew by ``update_growth``); the grouping itself is only rebuilt after discovery, refinement or a
        retirement, so a dashboard's coarse sizes do not freeze at the last discovery round."""
        fine = self.registry.active("fine")
        for cid in sorted(coarse_ids):
            coarse = self.registry.get(cid)
            children = [t for t in fine if t.parent_id == cid]
            if coarse is None or not children:
                continue
            size, coarse.centroid = _size_and_centroid(children)
            grew, coarse.size = size >= (1 + self.update_growth) * max(coarse.size, 1), size
            if grew:
                self.registry.emit(coarse, "update", reason="grew")

    def _retire_stale(self) -> None:
        """Retire themes nobody mentioned for ``retire_after`` items, and the stalest beyond ``max_themes``."""
        stale = [t for t, st in self.stats.items() if self.seen_ - st.last_seen > self.retire_after]
        excess = len(self.stats) - len(stale) - self.max_themes
        if excess > 0:
            by_age = sorted((st.last_seen, t) for t, st in self.stats.items() if t not in stale)
            stale += [t for _, t in by_age[:excess]]
        for tid in stale:
            self.stats.pop(tid, None)
            theme = self.registry.get(tid)
            if theme is not None:
                theme.status = "retired"
                self.registry.emit(theme, "retire", reason="no recent feedback")
        if stale:
            self._rebuild_coarse()  # a coarse theme whose children all retired retires too; the rest shrink

    # -- descriptions ---------------------------------------------------------------------------------------
    def _describe(self, theme_ids: set[str], quiet: bool = False) -> None:
        """Refresh the descriptions of ``theme_ids``, keep every fine label distinct, then emit what changed:
        births and splits, renames, and (unless ``quiet``) updates."""
        if not self.stats:
            return
        keywords = ctfidf_keywords({t: st.terms for t, st in self.stats.items()})
        old_labels: dict[str, str] = {}
        for tid in sorted(theme_ids):
            theme, st = self.registry.get(tid), self.stats.get(tid)
            if theme is not None and st is not None:
                old_labels[tid] = theme.label
                self._describe_theme(theme, st, keywords.get(tid, []))
        for tid, label in self._keep_labels_apart().items():
            old_labels.setdefault(tid, label)  # a theme described above keeps the label it had before
        self._emit_descriptions(theme_ids, old_labels, quiet)

    def _describe_theme(self, theme: Theme, st: ThemeStats, keywords: list[str]) -> None:
        """Keywords, quotes, empathy category, size and centroid from the statistics; a new label only when the
        old one no longer fits its keywords (so small shifts do not rename)."""
        theme.keywords = keywords
        if st.quote_pool:
            pool_texts = [t for _, t in st.quote_pool]
            theme.quotes = representative_quotes(pool_texts, np.array([s for s, _ in st.quote_pool]))
        if not _still_fits(theme.label, theme.keywords):
            # no content words ("N/A", "??", emoji): its most typical comment says more than an id
            fallback = theme.quotes[0][:LABEL_QUOTE_CHARS] if theme.quotes else theme.theme_id
            theme.label = label_phrase(short_label(theme.keywords, fallback=fallback), [q for _, q in st.quote_pool])
        cat, share = st.empathy_share()
        theme.empathy_category = cat if share >= self.empathy_share else None
        theme.centroid, theme.size = st.centroid, st.count

    def _keep_labels_apart(self) -> dict[str, str]:
        """Give fine themes that share a label distinct ones; returns the labels they had before, by id."""
        fine = self.registry.active("fine")
        distinct = distinguish_labels({t.theme_id: t.label for t in fine}, {t.theme_id: t.keywords for t in fine})
        before: dict[str, str] = {}
        for theme in fine:
            if distinct[theme.theme_id] != theme.label:
                before[theme.theme_id] = theme.label
                theme.label = distinct[theme.theme_id]
        return before

    def _emit_descriptions(self, theme_ids: set[str], old_labels: dict[str, str], quiet: bool) -> None:
        """Lineage events for this round: a rename where a label changed, an update for the other described
        themes, and the pending births and splits (their first event already carries the new label)."""
        births = {t: (ev, rel) for t, ev, rel in self._births}
        for tid, old_label in sorted(old_labels.items()):
            theme, st = self.registry.get(tid), self.stats.get(tid)
            if tid in births or theme is None:
                continue
            if old_label and old_label != theme.label:
                self.registry.emit(theme, "rename", reason=f"label was {old_label!r}")
            elif not quiet and tid in theme_ids and st is not None:
                self.registry.emit(theme, "update")
                st.published_size = st.count
        for tid, (event_type, related) in births.items():
            theme = self.registry.get(tid)
            if theme is not None:
                reason = f"split from {related[0]}" if event_type == "split" else "discovered"
                self.registry.emit(theme, event_type, related, reason=reason)  # type: ignore[arg-type]
        self._births.clear()
        self._flush_resolved()

    def _rebuild_coarse(self) -> None:
        """Group fine themes into coarse ones, keeping coarse ids whose children mostly stay together."""
        fine = self.registry.active("fine")
        if not fine:
            return
        groups = group_fine_themes(np.stack([t.centroid for t in fine]))
        new_groups = [{fine[i].theme_id for i in np.flatnonzero(groups == g)} for g in range(groups.max() + 1)]
        old = self.registry.active("coarse")
        old_children: dict[str, set[str]] = {c.theme_id: set() for c in old}
        for t in fine:
            if t.parent_id in old_children:
                old_children[t.parent_id].add(t.theme_id)
        matched = match_groups(new_groups, old_children, sizes={t.theme_id: max(t.size, 1) for t in fine})
        term_counts = {g: sum((self.stats[c].terms for c in m if c in self.stats), start=Counter()) for g, m in
                       enumerate(new_groups)}
        keywords = ctfidf_keywords({str(g): c for g, c in term_counts.items()})
        largest = [max((self.registry.get(c) for c in m), key=lambda t: t.size) for m in new_groups]
        quotes = [[q for c in m for q in self.registry.get(c).quotes] for m in new_groups]
        labels = distinguish_labels(
            {str(g): label_phrase(short_label(keywords.get(str(g), []), fallback=t.label), quotes[g])
             for g, t in enumerate(largest)}, keywords
        )
        for g, members in enumerate(new_groups):
            children = sorted((self.registry.get(c) for c in members), key=lambda t: -t.size)
            cid = matched.get(g)
            coarse = self.registry.get(cid) if cid else Theme(theme_id=self.registry.new_id("coarse"), level="coarse")
            before = coarse.to_dict(with_centroid=False)
            coarse.size, coarse.centroid = _size_and_centroid(children)
            coarse.keywords = keywords.get(str(g), [])
            coarse.label = labels[str(g)]
            coarse.quotes = [q for t in children[:3] for q in t.quotes[:1]]
            coarse.empathy_category = _majority_category(children, self.empathy_share)
            if cid is None:
                self.registry.add(coarse)
                self.registry.emit(coarse, "birth", [t.theme_id for t in children], reason="coarse group")
            elif before != coarse.to_dict(with_centroid=False):
                self.registry.emit(coarse, "update", [t.theme_id for t in children])
            for child in children:
                self._set_parent(child, coarse.theme_id)
        for c in old:
            if c.theme_id not in matched.values():
                c.status = "retired"
                self.registry.emit(c, "retire", reason="coarse groups rebuilt")

    def _set_parent(self, child: Theme, parent_id: str) -> None:
        """Point a fine theme at its coarse parent. Its pending events of this round are corrected in place;
        only a theme with none gets an update event, so no theme is published twice for one change."""
        if child.parent_id == parent_id:
            return
        child.parent_id = parent_id
        pending = [e for e in self.registry.events if e.theme_id == child.theme_id]
        for event in pending:
            event.theme.parent_id = parent_id
        if not pending:
            self.registry.emit(child, "update", reason=f"coarse parent {parent_id}")

    # -- state ----------------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot (themes, statistics, buffer, thresholds) to restart where it stopped."""
        reg = self.registry
        return {
            "version": STATE_VERSION,
            "params": {
                k: getattr(self, k)
                for k in (
                    "min_cluster_size", "min_samples", "n_neighbors", "n_components", "outlier_quantile",
                    "buffer_size", "min_discovery_size", "max_discovery_size", "max_themes", "retire_after",
                    "reservoir_size", "empathy_share", "update_growth", "sample_size", "random_state",
                )
            },
            "threshold": self.threshold_,
            "match_threshold": self.match_threshold_,
            "merge_threshold": self.merge_threshold_,
            "seen": self.seen_,
            "dropped": self.dropped_,
            "rounds": self.discovery_rounds_,
            "refinement_rounds": self.refinement_rounds_,
            "fitted_on": self.fitted_on_,
            "refinable": self.refinable_,
            "sample": self.sample.to_state(),
            "last_round_buffer": self._last_round_buffer,
            "auto_id": self._auto_id,
            "next_number": dict(reg.next_number),
            "redirect": dict(reg.redirect),
            "extra": dict(reg.extra),
            "themes": [t.to_dict() for t in reg.themes.values()],
            "stats": {t: st.to_state() for t, st in self.stats.items()},
            "buffer": {
                "ids": [b[0] for b in self.buffer],
                "texts": [b[1] for b in self.buffer],
                "embeddings": encode_array(np.stack([b[2] for b in self.buffer])) if self.buffer else None,
            },
            "empathy": self._empathy.to_state() if self._empathy is not None else None,
        }

    @classmethod
    def from_state(cls, d: dict[str, Any], embedder: TextEncoder | None = None) -> ThemeModel:
        """Rebuild a model from :meth:`to_state` output."""
        empathy = EmpathyMatcher.from_state(d["empathy"], embedder) if d.get("empathy") else None
        model = cls(embedder=embedder, empathy=empathy, **d["params"])
        model.threshold_ = d["threshold"]
        model.match_threshold_ = d["match_threshold"]
        model.merge_threshold_ = d["merge_threshold"]
        model.seen_, model.dropped_ = d["seen"], d["dropped"]
        model.discovery_rounds_, model._last_round_buffer = d["rounds"], d["last_round_buffer"]
        model._auto_id = d["auto_id"]
        model.refinement_rounds_ = int(d.get("refinement_rounds", 0))
        # a state from before refinement existed: its themes are as mature as everything it has seen
        model.fitted_on_ = int(d.get("fitted_on", model.seen_))
        model.refinable_ = bool(d.get("refinable", False))
        if d.get("sample"):
            model.sample = StreamSample.from_state(d["sample"])
        reg = model.registry
        for t in d["themes"]:
            reg.add(Theme.from_dict(t))
        reg.next_number.update(d["next_number"])
        reg.redirect.update(d["redirect"])
        reg.extra.update(d["extra"])
        model.stats = {t: ThemeStats.from_state(s) for t, s in d["stats"].items()}
        buf = d["buffer"]
        if buf["embeddings"]:
            x = decode_array(buf["embeddings"]).reshape(len(buf["ids"]), -1)
            for i, t, v in zip(buf["ids"], buf["texts"], x, strict=True):
                model.buffer.append((i, t, v))
        return model

    def __repr__(self) -> str:
        params = {k: v for k, v in asdict(self.params).items() if v is not None}
        return f"ThemeModel({params}, themes={len(self.registry.active('fine'))}, buffered={len(self.buffer)})"


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _size_and_centroid(children: list[Theme]) -> tuple[int, np.ndarray]:
    """A coarse theme's size and unit centroid: its children's, weighted by their sizes."""
    centroid = _unit(sum(t.centroid.astype(np.float64) * t.size for t in children))
    return sum(t.size for t in children), centroid.astype(np.float32)


def _still_fits(label: str, keywords: list[str]) -> bool:
    """Keep a label while its content words are still among the top keywords (no rename churn on small shifts)."""
    words = label_words(label)
    if not words or not keywords:
        return False
    top = {w for kw in keywords[:4] for w in kw.split()}
    return words <= top


def _majority_category(children: list[Theme], min_share: float) -> str | None:
    total = sum(t.size for t in children) or 1
    weights: dict[str, int] = {}
    for t in children:
        if t.empathy_category:
            weights[t.empathy_category] = weights.get(t.empathy_category, 0) + t.size
    if not weights:
        return None
    cat, w = max(weights.items(), key=lambda kv: (kv[1], kv[0]))
    return cat if w / total >= min_share else None


def _two_means(x: np.ndarray, rng: np.random.Generator, iters: int = 20) -> tuple[np.ndarray, np.ndarray] | None:
    """Spherical 2-means: boolean masks of the two halves (None when degenerate)."""
    if len(x) < 4:
        return None
    far = int(np.argmin(x @ x[int(rng.integers(len(x)))]))
    c = np.stack([x[int(np.argmin(x @ x[far]))], x[far]])
    mask = np.zeros(len(x), dtype=bool)
    for _ in range(iters):
        new = (x @ c.T).argmax(axis=1) == 0
        if new.all() or not new.any():
            return None
        if np.array_equal(new, mask):
            break
        mask = new
        c = np.stack([_unit(x[mask].mean(axis=0)), _unit(x[~mask].mean(axis=0))])
    return mask, ~mask
