"""faust's aiokafka consumer with offset bookkeeping that never commits past a message it has not processed.

faust 0.15 can commit an offset whose message no stream ever processed; a worker killed after such a commit
loses that message for good. ``tests/test_reliability.py`` (kill -9 mid-stream, then restart) once lost 123 of
5,000 messages; these faults are the suspects (the loss did not recur on demand, the faults were shown directly).
Three faults, all in ``faust.transport.consumer.Consumer``:

1. **Seek racing a fetch.** After a rebalance, recovery resumes the stream partitions *before* it seeks them to
   the committed offsets, so a fetch from the old position is delivered while the seek runs. The seek then
   resets the read offset under the delivery loop; the records fetched again after the seek are dropped as
   "already read" (``DROPPED MESSAGE ROFF``) although their first copies may have been skipped by a stream whose
   flow was still suspended.
2. **Gaps that include a real message.** When the read offset jumps (as it does after that race), faust records
   ``[read + 1, offset]`` as a gap of non-existent offsets and counts it as acknowledged. The interval includes
   the message being delivered, and, after the race, messages that exist and are still in flight.
3. **Out-of-order acknowledgements.** Two ``ingest`` actors finish batches out of order. faust commits the first
   run of acknowledged offsets without checking that it starts at the committed offset when none is committed
   yet, and lets it start one past the committed offset otherwise (``min(acked) - committed > 1``).

Here the consumer keeps its own next-offset per partition: a seek bumps an epoch, records fetched or delivered
under an older epoch are not counted as delivered and their partitions are sought back to where delivery really
stands, so every such record is delivered again (a duplicate the idempotent store absorbs) instead of skipped.
Gaps are recorded only between records actually delivered in order. An offset is committed only at the end of
the run of offsets that starts at the committed offset and is acknowledged or known not to exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from typing import Any, cast

from aiokafka.errors import IllegalStateError
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode import Service, ServiceT

log = logging.getLogger(__name__)


def contiguous_end(start: int, done: Collection[int]) -> int | None:
    """The offset after the run of done offsets that begins at ``start``: what may be committed. None when
    ``start`` itself is not done, because everything before a committed offset counts as processed."""
    end = start
    while end in done:
        end += 1
    return end if end > start else None


class AtLeastOnceConsumer(faust_aiokafka.Consumer):
    """Commits only offsets below which every message was processed or does not exist (see module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_delivery: dict[TP, int] = {}  # per partition: the next offset to hand to the streams
        self._first_delivered: dict[TP, int] = {}  # where delivery began, for partitions with nothing committed
        self._seek_epoch = 0
        self._seeking = 0

    # -- seeks -------------------------------------------------------------------------------------------

    async def perform_seek(self) -> None:
        """Seek to the committed offsets and restart delivery there; anything delivered meanwhile comes again."""
        self._seek_epoch += 1
        self._seeking += 1
        try:
            await super().perform_seek()
            assigned = self.assignment()
            for tp in assigned:
                committed = self._committed_offset.get(tp)
                if committed is not None:
                    self._next_delivery[tp] = committed
                elif tp in self._first_delivered:
                    # nothing committed yet: go back to the first record delivered since the assignment, since
                    # records delivered during the seek may have been skipped by a stream not yet flowing
                    start = self._first_delivered[tp]
                    if await self._seek_if_assigned(tp, start):
                        self._next_delivery[tp] = start
        finally:
            self._seeking -= 1
            self._seek_epoch += 1

    async def seek(self, partition: TP, offset: int) -> None:
        self._seek_epoch += 1
        await super().seek(partition, offset)
        self._restart_delivery({partition: offset})

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        """Recovery's seeks of changelog partitions: delivery restarts where they point."""
        self._seek_epoch += 1
        await super().seek_wait(partitions)
        self._restart_delivery(partitions)

    def _restart_delivery(self, positions: Mapping[TP, int]) -> None:
        for tp, offset in positions.items():
            if offset is not None and offset >= 0:
                self._next_delivery[tp] = offset
            else:
                self._next_delivery.pop(tp, None)
            self._first_delivered.pop(tp, None)

    async def _seek_back(self, first_undelivered: dict[TP, int]) -> None:
        """After a seek interrupted a delivery: put each interrupted partition where delivery really stands."""
        while self._seeking:
            await asyncio.sleep(0.05)
        for tp, offset in first_undelivered.items():
            target = self._next_delivery.get(tp, self._first_delivered.get(tp, offset))
            if await self._seek_if_assigned(tp, target):
                log.info("re-reading %s from offset %d: a seek interrupted its delivery", tp, target)
                self._next_delivery[tp] = target

    async def _seek_if_assigned(self, tp: TP, offset: int) -> bool:
        """Seek one partition; False when it is no longer ours (its new owner starts from the committed offset)."""
        if tp not in self.assignment():
            return False
        try:
            await self._seek(tp, offset)
        except IllegalStateError:  # revoked between the check and the seek
            return False
        return True

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._next_delivery.pop(tp, None)
            self._first_delivered.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    # -- delivery ----------------------------------------------------------------------------------------

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """faust's delivery loop, with delivery tracked per seek epoch (see the module docstring)."""
        callback = self.callback
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                epoch = self._seek_epoch
                interrupted: dict[TP, int] = {}
                records = self.getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in records:
                        offset = message.offset
                        if self._seek_epoch != epoch:
                            interrupted.setdefault(tp, offset)
                            continue
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        expected = self._next_delivery.get(tp)
                        if expected is not None and offset < expected:
                            continue  # fetched again after a seek back: this copy was already delivered
                        if expected is None:
                            self._first_delivered.setdefault(tp, offset)
                        elif offset > expected and acks_enabled_for(message.topic):
                            self._add_hole(tp, expected, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        if self._seek_epoch != epoch or self.suspend_flow.is_set():
                            interrupted.setdefault(tp, offset)  # may not have reached a stream: deliver again
                            continue
                        self._next_delivery[tp] = offset + 1
                        self._read_offset[tp] = offset
                    self.diag.unset_flag(CONSUMER_FETCHING)
                if interrupted:
                    await self._seek_back(interrupted)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    def _add_hole(self, tp: TP, begin: int, end: int) -> None:
        """Offsets ``[begin, end)`` do not exist (compaction, transaction markers): count them as processed."""
        holes = self._gap[tp]
        holes.addi(begin, end)
        holes.merge_overlaps()

    # -- commits -----------------------------------------------------------------------------------------

    def ack(self, message: Any) -> bool:
        """faust's ack, and a copy delivered twice (the re-reading above) leaves the unacknowledged set too:
        faust keeps a message there when its offset was acknowledged or committed before, and a rebalance then
        waits for it forever."""
        first = super().ack(message)
        if message.acked:
            self._unacked_messages.discard(message)
        return first

    def _new_offset(self, tp: TP) -> int | None:
        """The offset to commit: the end of the run of processed or non-existent offsets from the committed one."""
        acked = self._acked[tp]
        if not acked:
            return None
        start = self._committed_offset.get(tp)
        if start is None:
            start = self._first_delivered.get(tp)
        if start is None:
            return None
        top = max(acked) + 1
        done = {offset for offset in acked if offset >= start}
        holes = self._gap[tp]
        for hole in holes.overlap(start, top):
            done.update(range(max(hole.begin, start), min(hole.end, top)))
        end = contiguous_end(start, done)
        if end is None:
            return None
        acked[:] = sorted(offset for offset in acked if offset >= end)
        index = self._acked_index[tp]
        index.difference_update([offset for offset in index if offset < end])
        holes.chop(0, end)
        return end
