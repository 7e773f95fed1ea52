"""A faust app whose consumers read only committed Kafka transactions.

Every producer of the bus publishes in transactions; a consumer in ``read_uncommitted`` mode
would project events of aborted batches. faust switches to ``read_committed`` only with its
own exactly-once mode, whose open bugs we avoid (positions live with the projection state
instead), so the isolation level is set here.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers.aiokafka import (
    AIOKafkaConsumerThread,
    Consumer,
    Transport,
)


class _ReadCommittedConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"  # read by AIOKafkaConsumer.start()
        return consumer


class _ReadCommittedConsumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _ReadCommittedTransport(Transport):
    Consumer = _ReadCommittedConsumer


class ReadCommittedApp(faust.App):
    def _new_transport(self) -> Any:
        return _ReadCommittedTransport(self.conf.broker_consumer, self)
