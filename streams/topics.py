"""The topics of the service, created up front so producers and the worker agree on partitions and policies."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from insights.settings import Settings
from streams.kafka_config import aiokafka_kwargs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    p = settings.topic_partitions
    return [
        TopicSpec(settings.topic_survey, p),
        TopicSpec(settings.topic_review, p),
        TopicSpec(settings.topic_assignments, p),
        TopicSpec(settings.topic_themes, 1, {"cleanup.policy": "compact"}),
        TopicSpec(settings.topic_alerts, 1),
        TopicSpec(settings.topic_dead_letter, 1),
    ]


async def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> None:
    """Create missing topics; existing ones are left as they are."""
    specs = specs or topic_specs(settings)
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker created them first
            await admin.create_topics([NewTopic(s.name, s.partitions, 1, topic_configs=s.config) for s in missing])
        log.info("created topics: %s", ", ".join(s.name for s in missing))
    finally:
        await admin.close()
