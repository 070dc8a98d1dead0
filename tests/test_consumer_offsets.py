"""The worker's consumer commits an offset only when every message below it was processed or does not exist.

faust 0.15's own bookkeeping committed past messages still in flight (see ``streams.consumer``), and a kill -9
right after lost them. These tests drive the consumer faust builds for the worker through the situations that
did it: acknowledgements out of order with nothing committed yet, the one message at the committed offset still
in flight, and gaps between delivered records.
"""

from __future__ import annotations

import asyncio

import pytest
from faust.types import TP

from streams.consumer import AtLeastOnceConsumer, contiguous_end
from streams.transport import InsightsApp

SURVEY = TP("cx.feedback.survey", 0)


def test_contiguous_end_is_the_end_of_the_run_that_starts_at_start():
    assert contiguous_end(10, {10, 11, 12, 14}) == 13
    assert contiguous_end(10, {11, 12, 13}) is None  # 10 itself not done: nothing may be committed
    assert contiguous_end(0, set()) is None
    assert contiguous_end(5, {5}) == 6


@pytest.fixture
def consumer() -> AtLeastOnceConsumer:
    async def build() -> AtLeastOnceConsumer:
        app = InsightsApp("test-offsets", broker="kafka://127.0.0.1:9")
        return app.consumer

    built = asyncio.run(build())
    assert isinstance(built, AtLeastOnceConsumer)
    return built


def _ack(consumer: AtLeastOnceConsumer, *offsets: int) -> None:
    for offset in offsets:
        consumer._acked[SURVEY].append(offset)
        consumer._acked_index[SURVEY].add(offset)


def test_a_later_batch_acknowledged_first_is_not_committed_before_the_earlier_one(consumer):
    # nothing committed yet (a new consumer group): delivery began at offset 0, one actor holds 0-63, the
    # other finished 64-127 first. faust committed 128 here, and a kill then lost 0-63.
    consumer._first_delivered[SURVEY] = 0
    _ack(consumer, *range(64, 128))
    assert consumer._new_offset(SURVEY) is None
    _ack(consumer, *range(0, 64))
    assert consumer._new_offset(SURVEY) == 128
    assert not consumer._acked[SURVEY] and not consumer._acked_index[SURVEY]


def test_the_message_at_the_committed_offset_holds_the_commit_until_it_is_processed(consumer):
    # faust accepted a run starting one past the committed offset (min(acked) - committed > 1 was its test)
    consumer._committed_offset[SURVEY] = 500
    _ack(consumer, *range(501, 540))
    assert consumer._new_offset(SURVEY) is None
    _ack(consumer, 500)
    assert consumer._new_offset(SURVEY) == 540


def test_offsets_that_do_not_exist_count_as_processed_and_in_flight_ones_do_not(consumer):
    consumer._committed_offset[SURVEY] = 100
    consumer._add_hole(SURVEY, 103, 110)  # records 100-102 delivered, then 110: 103-109 do not exist
    _ack(consumer, 100, 101, 102, 110, 111)
    assert consumer._new_offset(SURVEY) == 112
    consumer._committed_offset[SURVEY] = 112
    _ack(consumer, 113, 114)  # 112 still in flight
    assert consumer._new_offset(SURVEY) is None
    _ack(consumer, 112)
    assert consumer._new_offset(SURVEY) == 115


def test_acknowledgements_below_the_committed_offset_are_ignored(consumer):
    # a copy delivered before a seek back, processed after the commit moved on
    consumer._committed_offset[SURVEY] = 200
    _ack(consumer, 150, 200, 201)
    assert consumer._new_offset(SURVEY) == 202
    assert consumer._acked[SURVEY] == []
