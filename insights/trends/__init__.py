"""Trends and alerts: event-time windows per theme and slice, baselines, significance tests, fair to agents.

Free of Kafka: the stream backs :class:`TrendMonitor`'s state with a faust Table; tests use a dict.
"""

from insights.trends.duration import parse_duration
from insights.trends.model import EMPATHY_THEME_ID, Alert, Observation
from insights.trends.monitor import TrendMonitor
from insights.trends.stats import betabinom_sf, shrunk_rate

__all__ = [
    "EMPATHY_THEME_ID",
    "Alert",
    "Observation",
    "TrendMonitor",
    "betabinom_sf",
    "parse_duration",
    "shrunk_rate",
]
