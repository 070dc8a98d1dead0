"""Theme discovery and assignment: HDBSCAN themes with stable ids, readable labels and the empathy taxonomy.

``ThemeModel`` is the one entry point the pipeline, the stream and ``insights discover`` share.
"""

from insights.themes.discovery import DiscoveryParams, cluster_embeddings
from insights.themes.empathy import EMPATHY_CATEGORIES, EmpathyMatcher
from insights.themes.model import ThemeModel
from insights.themes.types import Theme, ThemeEvent, ThemePrediction

__all__ = [
    "EMPATHY_CATEGORIES",
    "DiscoveryParams",
    "EmpathyMatcher",
    "Theme",
    "ThemeEvent",
    "ThemeModel",
    "ThemePrediction",
    "cluster_embeddings",
]
