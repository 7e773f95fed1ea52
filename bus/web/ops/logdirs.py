"""Bytes on disk per topic: Kafka's DescribeLogDirs (API 35, version 1), which aiokafka lacks.

Version 1 is the oldest version Kafka 4 still serves and has the same, non-flexible layout as
version 0: asking with a null topic list returns every partition of every log directory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int16, Int32, Int64, Schema, String

__all__ = ["topic_sizes"]


class DescribeLogDirsResponse_v1(Response):  # type: ignore[misc]
    API_KEY = 35
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", Array(
            ("error_code", Int16),
            ("log_dir", String("utf-8")),
            ("topics", Array(
                ("name", String("utf-8")),
                ("partitions", Array(
                    ("partition_index", Int32),
                    ("partition_size", Int64),
                    ("offset_lag", Int64),
                    ("is_future_key", Boolean))))))),
    )


class DescribeLogDirsRequest_v1(RequestStruct):  # type: ignore[misc]
    API_KEY = 35
    API_VERSION = 1
    RESPONSE_TYPE = DescribeLogDirsResponse_v1
    SCHEMA = Schema(("topics", Array(("topic", String("utf-8")), ("partitions", Array(Int32)))))


class DescribeLogDirsRequest(Request[DescribeLogDirsRequest_v1]):  # type: ignore[misc]
    API_KEY = 35

    def build(self, request_struct_class: type[DescribeLogDirsRequest_v1]
              ) -> DescribeLogDirsRequest_v1:
        return request_struct_class(None)  # every topic


def sizes_of(response: Any) -> dict[str, int]:
    """topic → bytes over every log directory of one broker (future replicas left out)."""
    sizes: dict[str, int] = {}
    for error_code, _log_dir, topics in response.results:
        if error_code:
            continue
        for name, partitions in topics:
            total = sum(int(size) for _, size, _, future in partitions if not future)
            sizes[str(name)] = sizes.get(str(name), 0) + total
    return sizes


async def topic_sizes(admin: AIOKafkaAdminClient, brokers: Iterable[int]) -> dict[str, int]:
    """Bytes each topic holds on the brokers' disks (leaders and followers summed)."""
    sizes: dict[str, int] = {}
    for node in brokers:
        response = await admin._send_request(DescribeLogDirsRequest(), node)
        for name, size in sizes_of(response).items():
            sizes[name] = sizes.get(name, 0) + size
    return sizes
