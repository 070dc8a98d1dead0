"""Retry database writes through outages: the worker waits and retries instead of losing or skipping input.

Writes are idempotent upserts, so repeating one after an unknown outcome is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Connection-level failures (server down, restarting, network) that a later try may get past."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def call_with_retry(
    fn: Callable[..., T],
    *args: object,
    first_wait: float = 0.5,
    max_wait: float = 30.0,
    give_up_after: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: object,
) -> T:
    """Call ``fn`` until it succeeds, backing off exponentially on transient database errors.

    Other errors propagate at once. ``give_up_after`` (seconds) bounds the total wait; None waits for ever,
    which is what a stream worker wants: it must not ack input it could not store.
    """
    wait = first_wait
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc):
                raise
            waited = time.monotonic() - started
            if give_up_after is not None and waited + wait > give_up_after:
                raise
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if str(exc) else type(exc).__name__
            log.warning("database unavailable (attempt %d, %s); retrying %s in %.1fs",
                        attempt, reason, getattr(fn, "__name__", "write"), wait)
            sleep(wait)
            wait = min(max_wait, wait * 2)
            attempt += 1
