"""Belief times are Kafka timestamps in milliseconds, from faust and from aiokafka alike."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from faust.types.tuples import Message

from projections.kafka_time import timestamp_ms


def test_faust_seconds_and_aiokafka_milliseconds_give_the_same_time() -> None:
    faust_message = Message("std.person", 0, 7, 1_700_000_000.123, 0, [], b"k", b"v", None)
    record = ConsumerRecord("std.person", 0, 7, 1_700_000_000_123, 0, b"k", b"v", None, 1, 1, [])
    assert timestamp_ms(faust_message) == timestamp_ms(record) == 1_700_000_000_123
