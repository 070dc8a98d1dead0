"""Cluster embeddings into themes: kNN graph -> spectral reduction -> HDBSCAN -> graph-vote fill, as a consensus.

Why this shape:
- HDBSCAN finds the number of themes itself, but density is meaningless in 384 dimensions, so the vectors are
  first reduced. UMAP is the usual choice but is heavy (numba compilation, tens of seconds); a spectral
  embedding of the cosine kNN graph keeps the same neighbourhood structure, costs a sparse eigensolve and
  measured as well or better on Banking77 (benchmarks/discovery.py).
- HDBSCAN leaves a large share of points as noise. Those are placed by a similarity-weighted vote of their
  nearest neighbours (the graph already computed), then a few smoothing rounds let every point follow the
  majority of its neighbours, which repairs the ragged borders between close themes.
- One such run depends on its neighbourhood size and number of spectral dimensions: the borders between close
  themes move with them, and no single setting is best on every dataset. So the run is repeated over a small
  grid around the derived values (neighbours and dimensions x 0.8, 1, 1.25; the eigenvectors are nested, so one
  eigensolve per neighbourhood size serves every dimension) and the runs vote: each kNN edge is weighted by the
  share of runs that put its two ends together, and the same spectral -> HDBSCAN -> vote steps cluster that
  consensus graph. Edges that only some runs keep lose weight, so unstable borders are cut and stable themes
  stay whole. On Banking77 (benchmarks/discovery.py) this raised NMI on the test set and on 1,500-item samples
  of it (where single runs vary most) and did not hurt the 10k train set; it costs about 3x one run.
- Cosine similarity weighs every direction of the embedding alike, most of them about what all texts of a dataset
  share. So the consensus is clustered once more in the space that separates the clusters it found (Fisher's
  LDA on them, :func:`discriminant_space`): borders between close themes move to where the data says they are.
  That space is fitted to keep apart whatever the first clustering cut apart, halves of one theme included, so
  halves are merged once more over the embeddings' own kNN graph (:func:`_merged_in_embeddings`).
- Every parameter scales with the number of items; nothing is tuned to one dataset.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)
WORDS = re.compile(r"\w+")
# kNN graphs of texts converged in 10 to 40 restarts (Banking77, 20k WordNet glosses); nearly disconnected never
ARPACK_RESTARTS = 60
# Past this many items a nearly disconnected graph goes to algebraic multigrid, not to shift-invert: the LU's fill-in
# grows fast with size. Banking77 train's 10,003-item consensus graphs took 3.6 and 4.8 s by shift-invert and 3.9 and
# 2.1 s by AMG; the 20,000-item CLINC150 ones 38.6 and 28.5 s against 5.6 and 2.7 s (2026-12-07). Below it the LU
# costs a fraction of a second and AMG more.
AMG_MIN_ITEMS = 10_000


@dataclass(frozen=True)
class DiscoveryParams:
    """Knobs of one discovery run; None means "derive from the number of items"."""

    min_cluster_size: int | None = None
    min_samples: int | None = None
    n_neighbors: int | None = None
    n_components: int = 30
    vote_neighbors: int = 10
    smoothing_rounds: int = 10
    merge_edge_share: float = 0.3
    ensemble_scales: tuple[float, ...] = (0.8, 1.0, 1.25)
    discriminant_rounds: int = 1
    discriminant_shrinkage: float = 0.3
    random_state: int = 0

    def resolved_min_cluster_size(self, n: int) -> int:
        """Grows like sqrt(n): more data reveals more (and finer) themes, but not linearly more."""
        if self.min_cluster_size is not None:
            return self.min_cluster_size
        return max(5, round(math.sqrt(n) / 5))

    def resolved_min_samples(self, n: int) -> int:
        """Small, so HDBSCAN's core distances stay local (large values merge neighbouring themes)."""
        if self.min_samples is not None:
            return self.min_samples
        return max(1, self.resolved_min_cluster_size(n) // 4)

    def resolved_n_neighbors(self, n: int) -> int:
        """Grows like log(n), as the neighbourhood a graph method needs for a connected graph."""
        if self.n_neighbors is not None:
            return min(self.n_neighbors, n - 1)
        return int(min(n - 1, max(10, min(30, round(1.3 * math.log2(max(n, 2)))))))


@dataclass
class Clustering:
    """Result of :func:`cluster_embeddings`: labels 0..k-1 (or -1) and which points HDBSCAN itself kept."""

    labels: np.ndarray
    core: np.ndarray

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size and self.labels.max() >= 0 else 0

    def relabelled(self, labels: np.ndarray) -> Clustering:
        """The same points under new labels: a point stays core only while it keeps a cluster."""
        return Clustering(labels, self.core & (labels >= 0))


def knn_graph(x: np.ndarray, k: int, cells: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities of the k nearest neighbours of each unit row (itself excluded).

    Exact brute force in chunks of rows: at discovery sizes (a bounded buffer) it is faster than building an
    approximate index. A chunk holds about ``cells`` similarities (with argpartition's copies, ~16 bytes each),
    so the peak memory of a round does not grow with the buffer: 2,048 rows of a full 5,000-item buffer
    were ~160 MB at once.
    """
    n = len(x)
    chunk = max(16, cells // max(n, 1))
    idx = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        block = x[start : start + chunk] @ x.T
        rows = np.arange(block.shape[0])
        block[rows, rows + start] = -np.inf
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        part_sims = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-part_sims, axis=1)
        idx[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        sims[start : start + chunk] = np.take_along_axis(part_sims, order, axis=1)
    return idx, sims


def knn_adjacency(idx: np.ndarray, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """Symmetrised (averaged) sparse adjacency of a kNN graph; binary unless ``weights`` (one per edge)."""
    n, k = idx.shape
    rows = np.repeat(np.arange(n), k)
    w = np.ones(n * k, dtype=np.float64) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    a = sp.csr_matrix((w, (rows, idx.ravel())), shape=(n, n))
    return (0.5 * (a + a.T)).tocsr()


def spectral_embed(a: sp.csr_matrix, n_components: int, random_state: int = 0) -> np.ndarray:
    """Spectral embedding of a graph (Laplacian eigenmaps, as sklearn's ``spectral_embedding`` with
    ``norm_laplacian=True``), eigenvectors ordered by eigenvalue (so the first d columns are the
    d-dimensional embedding), not yet row-normalised.

    The smallest eigenvectors of the normalised Laplacian are the largest of D^-1/2 A D^-1/2, which ARPACK finds
    with sparse products alone. sklearn instead factorises the Laplacian (shift-invert); on kNN graphs of
    loosely grouped texts the LU fill-in explodes: 20,000 WordNet glosses took 422 s per eigensolve against
    0.9 s here, and even Banking77's 10k train took 2.4 to 4.8 s against 0.7 s. The one graph ARPACK finds hard
    is a nearly disconnected one (a consensus graph whose themes only touch through tiny weights): dozens of
    eigenvalues within 1e-6 of 1 never separate (178 s without a cap). So after a capped number of restarts
    scikit-learn's solvers take over (:func:`_disconnected_embed`).
    """
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    n = a.shape[0]
    dims = max(2, min(n_components, n - 2))
    degree = np.asarray(a.sum(axis=1), dtype=np.float64).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    s_norm = (sp.diags(inv_sqrt) @ a @ sp.diags(inv_sqrt)).tocsr()
    if n <= 4 * (dims + 1) or n <= 300:
        values, vectors = np.linalg.eigh(s_norm.toarray())
    else:
        v0 = np.random.default_rng(random_state).uniform(-1, 1, n)
        try:
            values, vectors = eigsh(s_norm, k=dims + 1, which="LA", v0=v0, tol=0, maxiter=ARPACK_RESTARTS)
        except ArpackNoConvergence:
            return _disconnected_embed(a, dims, random_state)
    top = np.argsort(-values)[: dims + 1]
    return (vectors[:, top] * inv_sqrt[:, None])[:, 1:]


def _disconnected_embed(a: sp.csr_matrix, dims: int, random_state: int) -> np.ndarray:
    """scikit-learn's spectral embedding of a nearly disconnected graph: shift-invert ARPACK on small graphs,
    LOBPCG preconditioned by algebraic multigrid (pyamg) from :data:`AMG_MIN_ITEMS` items on."""
    from sklearn.manifold import spectral_embedding

    solver = "amg" if a.shape[0] >= AMG_MIN_ITEMS else "arpack"
    log.debug("spectral embedding: ARPACK did not converge in %d restarts; %s instead", ARPACK_RESTARTS,
              "algebraic multigrid" if solver == "amg" else "shift-invert")
    # scikit-learn warns of what it does on such graphs (not connected; shift-invert failed, LOBPCG instead; LOBPCG
    # stopped short of its tolerance): a screen of numbers a user running `insights seed` can do nothing about
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        z = spectral_embedding(a, n_components=dims, eigen_solver=solver, random_state=random_state,
                               drop_first=True)
    for w in caught:
        if not str(w.message).startswith("Graph is not fully connected"):
            log.debug("spectral embedding: %s", str(w.message).splitlines()[0])
    return z


def _unit_rows(z: np.ndarray) -> np.ndarray:
    return z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-12)


def spectral_reduce(idx: np.ndarray, n_components: int, random_state: int = 0) -> np.ndarray:
    """Row-normalised spectral embedding of the symmetrised kNN connectivity graph."""
    return _unit_rows(spectral_embed(knn_adjacency(idx), n_components, random_state))


def neighbour_vote(
    labels: np.ndarray, idx: np.ndarray, sims: np.ndarray, rounds: int, all_points: bool
) -> np.ndarray:
    """Let points take the label with the largest similarity-weighted vote among their neighbours.

    ``all_points=False`` only fills noise (-1) points; ``True`` smooths every point. Stops when nothing moves.
    """
    labels = labels.copy()
    n, k = idx.shape
    k_labels = int(labels.max()) + 1
    if k_labels == 0:
        return labels
    rows = np.repeat(np.arange(n), k)
    weights = np.maximum(sims, 0).ravel()
    for _ in range(rounds):
        nb = labels[idx].ravel()
        ok = nb >= 0
        votes = sp.csr_matrix((weights[ok], (rows[ok], nb[ok])), shape=(n, k_labels)).toarray()
        best = votes.argmax(axis=1)
        has = votes.max(axis=1) > 0
        target = has if all_points else has & (labels < 0)
        new = labels.copy()
        new[target] = best[target]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def merge_connected(labels: np.ndarray, idx: np.ndarray, min_share: float) -> np.ndarray:
    """Merge clusters whose kNN edges cross between them about as often as they stay inside.

    The spectral embedding has more dimensions than a small dataset has themes, and HDBSCAN then sometimes
    cuts one theme in two. Two halves of one theme send many neighbour edges to each other (share of a's
    edges landing in b plus share of b's landing in a >= ``min_share``); two distinct themes send few. Which
    graph matters: see :func:`_merged_in_embeddings`.

    The default share, 0.3, was 0.4 until 2026-12-07. Measured on the seven labelled sets of the benchmarks (2 runs
    each, 8 nudged ones on Banking77 test), 0.3 scored NMI higher on Banking77 test (+0.0024, in all 8 runs),
    Banking77 train (+0.002), Reuters R52 (+0.006), CFPB complaints (+0.002) and 20 Newsgroups (+0.001), and
    within 0.0007 lower on CLINC150, HWU64 and WordNet. 0.2 merged distinct intents (Banking77 test -0.003).
    """
    k_labels = int(labels.max()) + 1
    if k_labels < 2:
        return labels
    k = idx.shape[1]
    src = np.repeat(labels, k)
    dst = labels[idx.ravel()]
    ok = (src >= 0) & (dst >= 0)
    edges = sp.csr_matrix((np.ones(int(ok.sum())), (src[ok], dst[ok])), shape=(k_labels, k_labels)).toarray()
    share = edges / np.maximum(edges.sum(axis=1, keepdims=True), 1)
    both = share + share.T
    np.fill_diagonal(both, 0)
    parent = list(range(k_labels))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(*np.nonzero(np.triu(both >= min_share, k=1)), strict=True):
        parent[root(int(a))] = root(int(b))
    roots = np.array([root(i) for i in range(k_labels)])
    return np.where(labels >= 0, roots[np.maximum(labels, 0)], -1)


def relabel_contiguous(labels: np.ndarray, min_size: int = 1) -> np.ndarray:
    """Renumber labels 0..k-1 by size (largest first); clusters below ``min_size`` become -1."""
    out = np.full_like(labels, -1)
    values, counts = np.unique(labels[labels >= 0], return_counts=True)
    keep = [v for v, c in sorted(zip(values, counts, strict=True), key=lambda t: -t[1]) if c >= min_size]
    for new, old in enumerate(keep):
        out[labels == old] = new
    return out


def _hdbscan_and_vote(
    z: np.ndarray, idx: np.ndarray, sims: np.ndarray, mcs: int, params: DiscoveryParams
) -> np.ndarray:
    """HDBSCAN on a (row-normalised) spectral embedding, then noise fill and smoothing over the kNN graph."""
    import hdbscan

    n = len(z)
    labels = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=params.resolved_min_samples(n)).fit_predict(
        z.astype(np.float64)
    )
    if labels.max() < 0:
        return labels
    vk = min(params.vote_neighbors, idx.shape[1])
    labels = neighbour_vote(labels, idx[:, :vk], sims[:, :vk], rounds=params.smoothing_rounds, all_points=False)
    return neighbour_vote(labels, idx[:, :vk], sims[:, :vk], rounds=params.smoothing_rounds, all_points=True)


def co_association(runs: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """For each kNN edge (i, idx[i, j]), the share of runs (rows of ``runs``) that put both ends in one cluster."""
    ends = runs[:, idx]  # runs x n x k
    return ((runs[:, :, None] == ends) & (runs[:, :, None] >= 0)).mean(axis=0)


def discriminant_space(x: np.ndarray, labels: np.ndarray, shrinkage: float = 0.3) -> np.ndarray:
    """Unit rows of ``x`` projected on the directions that tell the given clusters apart (Fisher's LDA, fitted on
    the clusters themselves), each direction weighted by how well it separates them.

    Why: a sentence embedding spends most of its variance on what every text of a dataset shares (its domain, its
    phrasing), and cosine similarity weighs those directions as much as the ones that tell themes apart. A first
    clustering is a rough answer to which directions matter; re-clustering where within-theme variation is
    whitened away and the separating directions dominate moves the borders between close themes. It is the
    classic adaptive-metric loop of discriminative clustering, one round (:func:`cluster_embeddings` blends this
    space half and half with the embeddings). Measured on the clustering alone, Banking77 test and the 4,000-row
    samples of benchmarks/other_datasets.py, 3 runs each, against no such round: NMI up on all 7 labelled sets
    (Banking77 test +0.004, Reuters R52 +0.024, CFPB complaints +0.011, HWU64 +0.009, 20 Newsgroups +0.009,
    WordNet +0.004, CLINC150 +0.003), ARI up on all 7, for about 1.8x the time.

    ``shrinkage`` mixes the within-cluster covariance with a multiple of the identity (as scikit-learn's
    ``LinearDiscriminantAnalysis(shrinkage=...)``): a few hundred points do not estimate 384x384 covariances.
    Directions are the generalised eigenvectors of between- against within-cluster scatter, at most one fewer
    than the clusters, scaled by sqrt(ratio / (1 + ratio)) so that weak directions count for less.
    """
    from scipy.linalg import eigh

    ok = labels >= 0
    k = int(labels.max()) + 1
    d = x.shape[1]
    members = x[ok].astype(np.float64)
    counts = np.bincount(labels[ok], minlength=k).astype(np.float64)
    centres = np.zeros((k, d))
    np.add.at(centres, labels[ok], members)
    centres /= np.maximum(counts, 1)[:, None]
    resid = members - centres[labels[ok]]
    within = resid.T @ resid / len(resid)
    within = (1 - shrinkage) * within + (shrinkage * np.trace(within) / d + 1e-9) * np.eye(d)
    spread = (centres - members.mean(axis=0)) * np.sqrt(counts)[:, None]
    between = spread.T @ spread / len(resid)
    ratio, vectors = eigh(between, within)
    top = np.argsort(-ratio)[: max(1, min(d, int((counts > 0).sum()) - 1))]
    separation = np.maximum(ratio[top], 0)
    scale = np.sqrt(separation / (1 + separation))
    return _unit_rows(x @ (vectors[:, top] * scale)).astype(np.float32)


def cluster_embeddings(x: np.ndarray, params: DiscoveryParams | None = None) -> Clustering:
    """Discover clusters in unit-length embeddings without being told how many there are.

    A consensus clustering of the embeddings, then ``discriminant_rounds`` more where similarity is half the
    embeddings' cosine and half that of the space separating the clusters found (:func:`discriminant_space`).
    The discriminant space alone has one dimension fewer than there are clusters: with few clusters, the kNN graph
    inside each becomes a low-dimensional mesh whose own eigenvectors the spectral step then cuts along (8 clean
    synthetic blobs came out as 15 clusters); the embeddings' half keeps each theme one well-connected piece.
    After each round, halves of one theme that the round kept apart are merged over the embeddings' kNN graph.
    """
    params = params or DiscoveryParams()
    x = np.asarray(x, dtype=np.float32)
    clustering, graph = _consensus_clustering(x, params)
    for _ in range(params.discriminant_rounds):
        if clustering.n_clusters < 3 or graph is None:
            break
        # both unit rows: cosine in the joint space is the mean of the two cosines
        z = np.hstack([x, discriminant_space(x, clustering.labels, params.discriminant_shrinkage)]) / np.sqrt(2)
        again, _ = _consensus_clustering(z.astype(np.float32), params)
        if again.n_clusters < 2:
            break  # the projection lost what the first clustering found: keep that
        clustering = _merged_in_embeddings(again, graph, params)
    return clustering


def _merged_in_embeddings(clustering: Clustering, graph: np.ndarray, params: DiscoveryParams) -> Clustering:
    """Merge, over ``graph`` (the embeddings' own kNN indices, as the first consensus built them), the halves of one
    theme a discriminant round kept apart.

    Why: the discriminant space is fitted to separate the clusters of the round before, halves of one theme
    included, so in the joint space those halves send each other too few edges for :func:`merge_connected`.
    Among the embeddings' own neighbours they still do. Same test, same ``merge_edge_share``; only the graph
    differs. Measured 2026-12-07 on the clustering alone, embeddings nudged by 1e-4: Banking77 test NMI 0.8390 ->
    0.8400 and ARI 0.578 -> 0.583 (5 runs, 87 -> 84 themes), Banking77 train 0.8065 -> 0.8077, Reuters R52 and CFPB
    complaints +0.0016 and +0.0008, CLINC150, HWU64, 20 Newsgroups and WordNet unchanged (4,000-row samples, 3 runs).
    """
    labels = relabel_contiguous(merge_connected(clustering.labels, graph, params.merge_edge_share))
    return clustering.relabelled(labels)


def _consensus_clustering(x: np.ndarray, params: DiscoveryParams) -> tuple[Clustering, np.ndarray | None]:
    """The runs over the grid of neighbourhood sizes and dimensions, and the clustering of their consensus; with
    the kNN indices of ``x`` it merged over (None when there were too few items to build them)."""
    import hdbscan

    n = len(x)
    mcs = params.resolved_min_cluster_size(n)
    if n < max(3 * mcs, 20):
        return Clustering(np.full(n, -1), np.zeros(n, dtype=bool)), None
    k = params.resolved_n_neighbors(n)
    scales = tuple(params.ensemble_scales) or (1.0,)
    ks = sorted({min(n - 1, max(2, round(k * f))) for f in scales})
    dims = sorted({max(2, round(params.n_components * f)) for f in scales})
    idx_all, sims_all = knn_graph(x, max(ks + [k]))
    idx, sims = idx_all[:, :k], sims_all[:, :k]
    runs = []
    for kr in ks:
        z_all = spectral_embed(knn_adjacency(idx_all[:, :kr]), max(dims), params.random_state)
        for d in dims:
            runs.append(_hdbscan_and_vote(_unit_rows(z_all[:, :d]), idx_all[:, :kr], sims_all[:, :kr], mcs, params))
    if len(runs) == 1:
        labels = runs[0]
        core = labels >= 0
    else:
        together = co_association(np.stack(runs), idx)
        z = _unit_rows(spectral_embed(knn_adjacency(idx, together + 1e-6), params.n_components, params.random_state))
        hdb = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=params.resolved_min_samples(n))
        labels = hdb.fit_predict(z.astype(np.float64))
        core = labels >= 0
        if core.any():
            vk = min(params.vote_neighbors, k)
            w = (together * sims)[:, :vk]
            labels = neighbour_vote(labels, idx[:, :vk], w, rounds=params.smoothing_rounds, all_points=False)
            labels = neighbour_vote(labels, idx[:, :vk], w, rounds=params.smoothing_rounds, all_points=True)
    if not core.any():
        return Clustering(labels, core), idx
    labels = merge_connected(labels, idx, params.merge_edge_share)
    labels = relabel_contiguous(labels, min_size=max(2, mcs // 2))
    log.debug("discovery: %d items -> %d clusters (mcs %d, k %d, %d runs)", n, labels.max() + 1, mcs, k, len(runs))
    return Clustering(labels, core & (labels >= 0)), idx


def same_text_same_cluster(texts: Sequence[str], clustering: Clustering) -> Clustering:
    """Give every copy of one text (case, spacing and punctuation aside) the cluster most of its copies got.

    Copies of a text are one point to the eye but many to a kNN graph, where the order among identical
    neighbours is arbitrary: 2,000 copies of "The app keeps crashing" came out as 7 themes.
    """
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        words = " ".join(WORDS.findall(text.lower()))
        groups.setdefault(words or text.strip(), []).append(i)  # no words ("😡", "??"): the text itself
    labels = clustering.labels.copy()
    for members in groups.values():
        found = clustering.labels[members]
        found = found[found >= 0]
        if len(members) > 1 and len(found):
            labels[members] = np.bincount(found).argmax()
    if np.array_equal(labels, clustering.labels):
        return clustering
    labels = relabel_contiguous(labels)
    return clustering.relabelled(labels)


def empathy_apart(clustering: Clustering, categories: Sequence[str | None], min_size: int,
                  share: float) -> Clustering:
    """Give each empathy category a cluster of its own inside a cluster that no one category holds.

    Sentence embeddings group texts by what they are about, and an agent who "was friendly and knew exactly what
    to do" is about the agent as much as one who "talked down to me" or "rushed me off the phone": on the demo's
    historic feedback one cluster of 203 held praise (70), rude (40), rushed (33), dismissive (25)... and its label
    came from the praise. A CX analyst would have written those down as separate themes, and the theme's empathy
    category (the one ``share`` of its members have, if any) could name none of them. So where no value, "not
    empathy" included, holds ``share`` of a cluster, every category with ``min_size`` members there becomes a
    cluster of its own; the rest stays. A cluster one value holds is left whole: a category's other members mostly
    say the same in words the matcher missed, and a few flags in a topic (Banking77's questions about transfers
    called "no follow-up") are the matcher's doubts, not a theme.
    """
    labels = clustering.labels.copy()
    cats = np.array([c or "" for c in categories], dtype=object)
    next_label = clustering.n_clusters
    for c in range(clustering.n_clusters):
        members = np.flatnonzero(clustering.labels == c)
        values, counts = np.unique(cats[members], return_counts=True)
        flagged = [(v, n) for v, n in zip(values, counts, strict=True) if v]
        if not flagged or counts.max() >= share * len(members):
            continue
        for value, n in flagged:
            if n >= min_size:
                labels[members[cats[members] == value]] = next_label
                next_label += 1
    if next_label == clustering.n_clusters:
        return clustering
    labels = relabel_contiguous(labels)
    return clustering.relabelled(labels)
