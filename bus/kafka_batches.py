"""Record batches written in C and handed to aiokafka's sender as they are.

``send_batched`` (bus/kafka.py) fills one aiokafka ``BatchBuilder`` per partition, one
``append`` per record: a Python call, a header list encoded field by field and a varint at a
time. Where the C speedups are built, ``kafka_batches`` writes every batch of a call at once
(bus/_speedups_kafka.c, the bytes the builder would write) and :class:`EncodedBatch` carries
each one to ``send_batch``: the sender sets the producer's id, epoch and sequence as it drains
the batch, and only then are the header and its CRC written — as aiokafka's builder does.
Producers with compression or serializers keep aiokafka's builder.
"""

from __future__ import annotations

import struct
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.util import calc_crc32c

__all__ = ["EncodedBatch", "encoded_batch_size"]

#: Record batch header, format v2: base offset, length, partition leader epoch, magic, CRC,
#: attributes, last offset delta, first and max timestamp, producer id, epoch, base sequence,
#: record count (61 bytes; kafka_batches leaves them zero).
_HEADER = struct.Struct(">qiibIhiqqqhii")
_LENGTH_END = 12  # the batch length counts the bytes after base offset and length
_CRC_AT, _CRC_FROM = 17, 21  # the CRC covers everything from the attributes on
_TRANSACTIONAL = 0x10
_NO_PARTITION_LEADER_EPOCH = -1


class EncodedBatch(BatchBuilder):  # type: ignore[misc]  # aiokafka is untyped here
    """A closed batch of ``count`` records already written after a zeroed header.

    Behaves as a closed ``BatchBuilder`` for aiokafka's accumulator and sender; ``_build``
    writes the header once, with the producer state the sender set.
    """

    def __init__(self, buffer: bytearray, count: int, timestamp_ms: int,
                 transactional: bool) -> None:  # no BatchBuilder.__init__: nothing to append
        self._encoded = buffer
        self._count = count
        self._timestamp_ms = timestamp_ms
        self._transactional = transactional
        self._producer_state = (-1, -1, 0)
        self._written = False

    def append(self, *, timestamp: Any, key: Any, value: Any, headers: Any = ()) -> None:
        return None  # closed: aiokafka's send() opens a batch of its own

    def close(self) -> None:
        pass

    def closed(self) -> bool:
        return True

    def _set_producer_state(self, producer_id: int, producer_epoch: int,
                            base_sequence: int) -> None:
        self._producer_state = (producer_id, producer_epoch, base_sequence)

    def _build(self) -> bytearray:
        buffer = self._encoded
        if not self._written:  # as aiokafka, the batch is built once, retries resend it
            producer_id, epoch, sequence = self._producer_state
            _HEADER.pack_into(
                buffer, 0, 0, len(buffer) - _LENGTH_END, _NO_PARTITION_LEADER_EPOCH, 2, 0,
                _TRANSACTIONAL if self._transactional else 0, self._count - 1,
                self._timestamp_ms, self._timestamp_ms, producer_id, epoch, sequence,
                self._count)
            struct.pack_into(">I", buffer, _CRC_AT, calc_crc32c(memoryview(buffer)[_CRC_FROM:]))
            self._written = True
        return buffer

    def size(self) -> int:
        return len(self._encoded)

    def record_count(self) -> int:
        return self._count


def encoded_batch_size(producer: object) -> tuple[int, bool] | None:
    """``(batch size, transactional)`` of ``producer`` when its batches can be written in C:
    an ``AIOKafkaProducer`` without compression, key or value serializer; else None."""
    if not isinstance(producer, AIOKafkaProducer):
        return None
    settings: Any = producer
    if settings._compression_type or settings._key_serializer or settings._value_serializer:
        return None
    transactions = settings._txn_manager
    return (int(settings._message_accumulator._batch_size),
            transactions is not None and transactions.transactional_id is not None)
