"""The worker's consumer bounds a whole fetch response, not only each partition's part of it.

Tansu (our test broker) ignores the per-partition limit, and a fetch of thousands of one partition's records
made the worker's partitions drift days apart in event time, holding every trend window open in memory
(benchmarks/throughput.py --messages 100000 shows the effect on peak RSS). Here: the consumer faust builds for
the worker carries both limits.
"""

from __future__ import annotations

import asyncio

from streams.transport import BoundedFetchTransport, InsightsApp


def test_the_worker_consumer_bounds_the_whole_fetch_as_well_as_each_partition():
    async def build():
        app = InsightsApp("test-bounded-fetch", broker="kafka://127.0.0.1:9", consumer_max_fetch_size=65_536)
        assert isinstance(app.transport, BoundedFetchTransport)
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        return consumer._max_partition_fetch_bytes, consumer._fetch_max_bytes

    per_partition, whole = asyncio.run(build())
    assert per_partition == 65_536
    assert whole == 65_536
