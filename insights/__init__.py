"""cx-insights: the domain of the customer-feedback insight service.

Nothing in this package imports Kafka: the stream wiring lives in ``streams/``.
"""

__version__ = "0.1.0"
