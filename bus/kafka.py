"""Kafka plumbing shared by every bus process: topic creation, producers, consumers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from bus.kafka_batches import EncodedBatch, encoded_batch_size
from bus.speedups import speedups

log = logging.getLogger(__name__)

#: One record to produce: topic, key, value (None: a tombstone), headers.
OutgoingRecord = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


class TopicMisconfigured(Exception):
    """An existing topic whose configuration loses what the bus keeps in it; the message
    names the topic, the setting and how to change it."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic the bus owns: name, partitions and its configuration (e.g. compaction)."""

    name: str
    partitions: int = 1
    config: dict[str, str] = field(default_factory=dict)

    @classmethod
    def compacted(cls, name: str, partitions: int = 1, *,
                  roll_after_ms: int | None = None) -> TopicSpec:
        """A topic that keeps the last record per key. ``roll_after_ms`` closes the active
        segment that often and lets the cleaner start at 10 % dirty: only closed segments are
        compacted, so a topic read whole at start (positions) stays short."""
        config = {"cleanup.policy": "compact"}
        if roll_after_ms is not None:
            config |= {"segment.ms": str(roll_after_ms), "min.cleanable.dirty.ratio": "0.1"}
        return cls(name, partitions, config)

    @classmethod
    def history(cls, name: str, partitions: int = 1) -> TopicSpec:
        """A topic that keeps every event forever (Kafka is the source of truth)."""
        return cls(name, partitions, {"retention.ms": "-1", "retention.bytes": "-1"})


async def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> None:
    """Create the topics that do not exist yet, and check those that exist
    (:func:`_check_existing`): a topic the bus keeps compacted that is not is made so (or,
    where that is refused, stops with :class:`TopicMisconfigured`); a history topic that
    deletes or compacts events is logged."""
    specs = list(specs)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await _check_existing(admin, bootstrap, [s for s in specs if s.name in existing])
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return
        try:
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, 1, topic_configs=s.config) for s in missing]
            )
        except TopicAlreadyExistsError:
            pass  # another process created it meanwhile
        await _wait_for_metadata(admin, {s.name for s in missing})
    finally:
        await admin.close()


#: What a history topic (:meth:`TopicSpec.history`) must not do to keep every event.
_KEEPS_EVERYTHING = {"retention.ms": "-1", "retention.bytes": "-1"}
#: DescribeConfigs' source of a setting made for the topic itself.
_DYNAMIC_TOPIC_CONFIG = 1


async def _check_existing(admin: AIOKafkaAdminClient, bootstrap: str,
                          specs: Sequence[TopicSpec]) -> None:
    """Compare what the bus relies on in ``specs`` with the existing topics' settings."""
    checked = [s for s in specs if "cleanup.policy" in s.config or "retention.ms" in s.config]
    if not checked:
        return
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in checked])
    #: Per topic: every setting's value, and the settings made for the topic itself — None
    #: where a setting's value is hidden (sensitive) or the broker does not say where settings
    #: were made (DescribeConfigs version 0 tells only whether one is a default).
    actual: dict[str, tuple[dict[str, str], dict[str, str] | None]] = {}
    for response in responses:
        sources_told = int(getattr(response, "API_VERSION", 0)) >= 1
        for error_code, _message, _type, name, entries in response.resources:
            if error_code != 0:
                continue  # deleted meanwhile: created again below
            made = {str(e[0]): e[1] for e in entries if e[3] == _DYNAMIC_TOPIC_CONFIG}
            known = sources_told and all(value is not None for value in made.values())
            actual[name] = ({str(e[0]): str(e[1]) for e in entries},
                            {n: str(v) for n, v in made.items()} if known else None)
    for spec in checked:
        if spec.name not in actual:
            continue
        config, own = actual[spec.name]
        policy = config.get("cleanup.policy", "delete")
        compacted = "compact" in policy.split(",")
        fix = (f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics "
               f"--entity-name {spec.name} --add-config")
        if spec.config.get("cleanup.policy") == "compact" and not compacted:
            await _compact(admin, spec, own, policy, fix)
        if spec.config.get("retention.ms") == "-1":
            lost = [f"{name}={config[name]}" for name, keep in _KEEPS_EVERYTHING.items()
                    if config.get(name, keep) != keep]
            if compacted:
                lost.append(f"cleanup.policy={policy}")
            if lost:
                log.warning("topic %s keeps events for a limited time or per key only (%s); "
                            "the bus treats its topics as the record of every event, and "
                            "projections rebuilt from it would miss what is gone: `%s "
                            "retention.ms=-1,retention.bytes=-1,cleanup.policy=delete`",
                            spec.name, ", ".join(lost), fix)


async def _compact(admin: AIOKafkaAdminClient, spec: TopicSpec, own: dict[str, str] | None,
                   policy: str, fix: str) -> None:
    """Make an existing topic the bus keeps compacted so, keeping its other settings.

    Such a topic was usually created by a consumer reading it before the bus created it
    (brokers create topics on first use by default), with the broker's defaults. AlterConfigs
    replaces every setting made for the topic (``own``), so those are sent along; where they
    cannot be read (None) or the change is refused, :class:`TopicMisconfigured` says what to
    run instead.
    """
    problem = f"topic {spec.name} exists with cleanup.policy={policy}"
    needed = (f"the bus keeps the last record per key there and needs cleanup.policy=compact: "
              f"with deletion its records expire and what they hold is lost. Change it with "
              f"`{fix} cleanup.policy=compact`")
    if own is None:
        raise TopicMisconfigured(f"{problem}; {needed}")
    wanted = {**own, "cleanup.policy": "compact", **spec.config}
    responses = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, spec.name, wanted)])
    for response in responses:
        for error_code, error_message, _type, _name in response.resources:
            if error_code != 0:
                raise TopicMisconfigured(
                    f"{problem} and changing it was refused (error {error_code}: "
                    f"{error_message}); {needed}")
    log.warning("%s (created before the bus created it, e.g. by a consumer reading it first); "
                "set to %s, which the bus relies on", problem,
                ",".join(f"{name}={value}" for name, value in sorted(spec.config.items())))


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    for _ in range(50):
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)


def transactional_producer(bootstrap: str, transactional_id: str) -> AIOKafkaProducer:
    """Idempotent producer whose sends commit atomically with the positions they advance."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=transactional_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


def partition_for(key: bytes, partitions: list[int]) -> int:
    """The partition aiokafka's default partitioner gives a keyed record (Java's murmur2)."""
    if len(partitions) == 1:
        return partitions[0]
    index: int = (murmur2(key) & 0x7FFFFFFF) % len(partitions)
    return partitions[index]


async def send_batched(producer: AIOKafkaProducer, records: Iterable[OutgoingRecord]) -> list[Any]:
    """Queue ``records`` as whole record batches; same partitions and order as ``send`` each.

    ``send`` costs per record (metadata check, partitioner, a future); this fills one
    ``create_batch()`` builder per partition and submits it with ``send_batch``, which works
    inside a transaction like ``send`` (the partition joins the transaction, the commit flushes
    it). Keyed records land on the partition the default partitioner picks, in their order;
    records without a key go through ``send`` (a random partition, as ``send`` would choose).
    Where the C speedups are built, each topic's batches are written in one call instead
    (bus/kafka_batches.py). Returns the delivery futures (one per submitted batch or keyless
    record).
    """
    native, settings = speedups(), encoded_batch_size(producer)
    if native is not None and settings is not None:
        return await _send_encoded(producer, native, list(records), *settings)
    builders: dict[tuple[str, int], Any] = {}
    partitions: dict[str, list[int]] = {}
    futures: list[Any] = []
    for topic, key, value, headers in records:
        if key is None:
            futures.append(await producer.send(topic, value=value, headers=headers))
            continue
        known = partitions.get(topic)
        if known is None:
            known = partitions[topic] = sorted(await producer.partitions_for(topic))
        target = (topic, partition_for(key, known))
        builder = builders.get(target)
        if builder is None:
            builder = builders[target] = producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            futures.append(await _submit(producer, builder, target))  # full: the next one
            builder = builders[target] = producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=headers)  # empty: fits
    for target, builder in builders.items():
        futures.append(await _submit(producer, builder, target))
    return futures


async def _send_encoded(producer: AIOKafkaProducer, native: Any, records: list[OutgoingRecord],
                        batch_size: int, transactional: bool) -> list[Any]:
    """:func:`send_batched` with each topic's batches written by one C call
    (bus/kafka_batches.py): the same records on the same partitions, in the same order."""
    futures: list[Any] = []
    for topic, key, value, headers in records:
        if key is None:
            futures.append(await producer.send(topic, value=value, headers=headers))
    timestamp_ms = int(time.time() * 1000)
    for topic in dict.fromkeys(record[0] for record in records):
        partitions = sorted(await producer.partitions_for(topic))
        for index, buffer, count in native.kafka_batches(records, topic, len(partitions),
                                                         batch_size):
            batch = EncodedBatch(buffer, count, timestamp_ms, transactional)
            futures.append(await producer.send_batch(batch, topic, partition=partitions[index]))
    return futures


async def _submit(producer: AIOKafkaProducer, builder: Any, target: tuple[str, int]) -> Any:
    builder.close()  # complete: the sender need not wait for linger_ms
    return await producer.send_batch(builder, target[0], partition=target[1])


def committed_reader(bootstrap: str, *topics: str, group_id: str | None = None) -> AIOKafkaConsumer:
    """Consumer that sees only committed transactions and commits offsets explicitly."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
