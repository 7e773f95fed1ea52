"""The composition root: builds each running part of the bus from settings.

The CLI, ``make demo`` and the tests all go through these functions, so what is tested is
what runs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from aiohttp import web

from adapters.capture.sqlite_polling import PolledTable, SqlitePollingCapture
from adapters.standardize.mapping import Mapping, load_mapping
from adapters.standardize.stage import StandardizeStage
from bus.kafka import TopicSpec, committed_reader, ensure_topics, transactional_producer
from bus.positions import POSITIONS_TOPIC_SPEC
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.web.app import create_web_app
from projections.citizen_profile.worker import INPUT_TOPIC as PERSON_TOPIC
from projections.citizen_profile.worker import create_projection_app

log = logging.getLogger(__name__)
GONGAN_MAPPING = "gongan.hj_ryxx"


def topics_for(mapping: Mapping) -> list[TopicSpec]:
    return [
        POSITIONS_TOPIC_SPEC,
        TopicSpec.history(mapping.source_topic),
        TopicSpec.history(mapping.target_topic),
        TopicSpec.history(mapping.quarantine_topic),
    ]


@asynccontextmanager
async def adapter_pipeline(settings: Settings) -> AsyncIterator[
        tuple[SqlitePollingCapture, StandardizeStage]]:
    """Capture + standardize of the Public Security register, started and stopped together."""
    mapping = load_mapping(GONGAN_MAPPING)
    await ensure_topics(settings.kafka_bootstrap, topics_for(mapping))
    registry = RegistryClient(settings.registry_url)
    serde = AvroSerde(registry)
    table = PolledTable(mapping.department, mapping.table, mapping.key_column,
                        mapping.updated_column)
    capture_producer = transactional_producer(settings.kafka_bootstrap, table.owner)
    stage_producer = transactional_producer(
        settings.kafka_bootstrap, f"standardize.{mapping.department}.{mapping.table}")
    started = []
    try:
        for producer in (capture_producer, stage_producer):
            await producer.start()
            started.append(producer)
        capture = SqlitePollingCapture(
            table, settings.gongan_db_path.resolve(), capture_producer, serde,
            settings.kafka_bootstrap, batch_size=settings.capture_batch_size,
            poll_interval=settings.capture_poll_interval,
        )
        consumer = committed_reader(settings.kafka_bootstrap, mapping.source_topic,
                                    group_id=f"bus.standardize.{mapping.department}.{mapping.table}")
        stage = StandardizeStage(mapping, consumer, stage_producer, serde)
        await consumer.start()
        try:
            yield capture, stage
        finally:
            await consumer.stop()
    finally:
        for producer in reversed(started):
            await producer.stop()
        await registry.close()


async def run_adapters(settings: Settings) -> None:
    """Run capture and standardize until SIGINT/SIGTERM; a failing task stops both, loudly."""
    stop = _stop_on_signals()
    async with adapter_pipeline(settings) as (capture, stage):
        tasks = [asyncio.create_task(capture.run(stop), name="capture"),
                 asyncio.create_task(stage.run(stop), name="standardize")]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


def run_projections(settings: Settings) -> None:
    """Run the faust worker of the citizen_profile projection (blocks; handles signals)."""
    from faust import Worker

    asyncio.run(ensure_topics(settings.kafka_bootstrap, [TopicSpec.history(PERSON_TOPIC)]))
    app = create_projection_app(
        bootstrap=settings.kafka_bootstrap, registry_url=settings.registry_url,
        store_path=settings.read_store_path.resolve(),
        data_dir=(settings.state_dir / "faust").resolve(),
    )
    Worker(app, loglevel="INFO", quiet=True).execute_from_commandline()


def run_web(settings: Settings) -> None:
    web.run_app(create_web_app(settings), host=settings.web_host, port=settings.web_port,
                print=None, access_log=None)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
