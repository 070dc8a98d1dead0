"""Parameter types shared by the API's routers, so every route validates ids and dimensions alike."""

from __future__ import annotations

from enum import StrEnum

# ids and dimension values: printable, bounded (no control characters: PostgreSQL rejects NUL in text)
ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"


class Dimension(StrEnum):
    """The dimensions every feedback item carries."""

    agent_id = "agent_id"
    team = "team"
    journey_stage = "journey_stage"
    channel = "channel"
