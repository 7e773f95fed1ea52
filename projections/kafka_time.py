"""The Kafka timestamp of a message in milliseconds, whoever delivered it.

faust's ``Message.timestamp`` is in seconds (a float); aiokafka's ``ConsumerRecord.timestamp`` is
in milliseconds (an int). Projections keep belief times in milliseconds, and a rebuild (aiokafka)
must write the very same times as the live worker (faust).
"""

from __future__ import annotations

from typing import Any

from faust.types.tuples import Message

__all__ = ["timestamp_ms"]


def timestamp_ms(message: Any) -> int:
    if isinstance(message, Message):
        return round((message.timestamp or 0.0) * 1000)
    return int(message.timestamp or 0)
