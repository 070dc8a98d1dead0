"""The coarse level: tens of themes for executives and alerts, grouping the fine themes.

Fine centroids are grouped by average-linkage agglomerative clustering on cosine distance. The number of
groups grows like the square root of the number of fine themes (80 fine -> 18 coarse), so nobody has to choose
it. Coarse ids stay stable across rebuilds by matching each new group to the old coarse theme whose children
overlap most (Jaccard >= 0.5, children weighted by size: when a group splits, its id follows the larger part).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def n_coarse_for(n_fine: int) -> int:
    """How many coarse themes to form over ``n_fine`` fine ones."""
    if n_fine <= 3:
        return n_fine
    return max(2, min(n_fine, round(2 * math.sqrt(n_fine))))


def group_fine_themes(centroids: np.ndarray) -> np.ndarray:
    """Coarse group (0..g-1) of each fine centroid."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(centroids)
    groups = n_coarse_for(n)
    if groups >= n:
        return np.arange(n)
    model = AgglomerativeClustering(n_clusters=groups, metric="cosine", linkage="average")
    return model.fit_predict(np.asarray(centroids, dtype=np.float64))


def match_groups(
    new_groups: Sequence[set[str]],
    old_groups: Mapping[str, set[str]],
    min_jaccard: float = 0.5,
    sizes: Mapping[str, float] | None = None,
) -> dict[int, str]:
    """Index of a new group -> old coarse id it continues (greedy by best overlap, each old id used once).

    With ``sizes`` (members per fine theme) the overlap counts members, not themes: a group of two themes that
    parts continues in its larger half, where plain Jaccard ties at 0.5 and picks either.
    """

    def weight(ids: set[str]) -> float:
        return float(sum(sizes.get(t, 0) for t in ids)) if sizes is not None else float(len(ids))

    pairs = []
    for i, members in enumerate(new_groups):
        for old_id, old_members in old_groups.items():
            union = weight(members | old_members)
            j = weight(members & old_members) / union if union else 0.0
            if j >= min_jaccard:
                pairs.append((j, i, old_id))
    out: dict[int, str] = {}
    used: set[str] = set()
    for _, i, old_id in sorted(pairs, reverse=True):
        if i not in out and old_id not in used:
            out[i] = old_id
            used.add(old_id)
    return out
