"""faust's aiokafka transport with the consumer's whole fetch bounded, not only its per-partition part.

faust passes ``consumer_max_fetch_size`` to aiokafka as ``max_partition_fetch_bytes`` but leaves
``fetch_max_bytes`` (a whole fetch response) at aiokafka's 50 MB. Apache Kafka honours the per-partition limit;
brokers that implement only the response limit (Tansu, the broker of our tests and benchmarks) answer one fetch
with thousands of records of a single partition, which the worker then processes before the others. The
partitions drift apart in event time, and every trend window stays open (in memory) until the slowest one
catches up. Bounding the response too keeps the partitions in step on either kind of broker.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.consumer import AtLeastOnceConsumer

log = logging.getLogger(__name__)


class BoundedFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Tansu fills a response from the partitions in request order, which aiokafka shuffles: a response of
        # one partition's share keeps the drift a random walk of small steps (a few thousand items at 100k)
        limit = self.app.conf.consumer_max_fetch_size
        if hasattr(consumer, "_fetch_max_bytes"):  # aiokafka reads it when the consumer starts
            consumer._fetch_max_bytes = limit
            log.info("consumer fetches at most %d bytes per partition and per response", limit)
        else:
            log.warning("this aiokafka has no fetch_max_bytes to bound; partitions may drift apart on brokers "
                        "that ignore the per-partition fetch limit")
        return consumer


class BoundedFetchConsumer(AtLeastOnceConsumer):
    def _new_consumer_thread(self) -> BoundedFetchConsumerThread:
        return BoundedFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)


class BoundedFetchTransport(faust_aiokafka.Transport):
    Consumer = BoundedFetchConsumer


class InsightsApp(faust.App):
    """A faust App whose consumers bound a whole fetch (see the module docstring) and commit only what the streams
    processed (see ``streams.consumer``)."""

    def _new_transport(self) -> BoundedFetchTransport:
        return BoundedFetchTransport(self.conf.broker_consumer, self)
