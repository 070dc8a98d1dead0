"""A write-behind view of the trend monitor's state: many changes to a key, one write when flushed.

The monitor rewrites a window's slice records for every item it counts (about seven keys per item). When the
state is a changelog-backed table each rewrite is a message to the broker with the whole record serialised,
which costs more CPU than the counting itself. Behind this view the changes of a batch collapse to one write
per changed key, sent by :meth:`WriteBehindState.flush` before the batch is acknowledged, so a crash loses no
more than an unacknowledged batch that is read again.

A crash can also cut a flush short: the broker keeps the messages sent before the kill, in order, and loses the
rest. Which keys go first therefore decides what a recovered state can look like; ``write_first`` lets the owner
of the keys choose (the trend counts write their dedup keys before the counts they guard, see
:data:`insights.trends.counts.FLUSH_FIRST`).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_MISSING = object()


class WriteBehindState(MutableMapping[str, Any]):
    """Reads see the latest value; writes and deletes reach ``backing`` only on :meth:`flush`."""

    def __init__(self, backing: MutableMapping[str, Any], write_first: tuple[str, ...] = ()) -> None:
        """``write_first``: key prefixes whose writes :meth:`flush` sends before anything else, in this order."""
        self.backing = backing
        self.write_first = write_first
        self._written: dict[str, Any] = {}
        self._deleted: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        value = self._written.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if key in self._deleted:
            raise KeyError(key)
        return self.backing[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._written[key] = value
        self._deleted.discard(key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._written.pop(key, None)
        self._deleted.add(key)

    def __contains__(self, key: object) -> bool:
        if key in self._written:
            return True
        return key not in self._deleted and key in self.backing

    def __iter__(self) -> Iterator[str]:
        yield from self._written
        for key in list(self.backing):
            if key not in self._written and key not in self._deleted:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def pending(self) -> int:
        """Keys written or deleted since the last flush."""
        return len(self._written) + len(self._deleted)

    def flush(self) -> int:
        """Write the changed keys to ``backing`` (one write or delete each); returns how many.

        Order: writes of the ``write_first`` prefixes (in that order), then deletes, then the other writes.
        """
        done = 0
        rest = dict(self._written)
        for prefix in self.write_first:
            for key in [k for k in rest if k.startswith(prefix)]:
                self.backing[key] = rest.pop(key)
                done += 1
        for key in self._deleted:
            if key in self.backing:
                del self.backing[key]
                done += 1
        for key, value in rest.items():
            self.backing[key] = value
            done += 1
        self._written.clear()
        self._deleted.clear()
        return done
