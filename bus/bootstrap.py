"""The composition root: builds each running part of the bus from settings.

The CLI, ``make demo`` and the tests all go through these functions, so what is tested is
what runs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from aiohttp import web
from prometheus_client import CollectorRegistry

from adapters.capture.config import load_configured_sources
from adapters.capture.engines.registry import build_sources
from adapters.capture.runner import CaptureRunner
from adapters.capture.source import SourceMisconfigured, TableSpec
from adapters.capture.status import CaptureMetrics
from adapters.standardize.mapping import find_mapping
from adapters.standardize.metrics import StandardizeMetrics
from adapters.standardize.stage import StandardizeStage
from bus.collector import pace_collector
from bus.kafka import TopicSpec, committed_reader, ensure_topics, transactional_producer
from bus.positions import POSITIONS_TOPIC_SPEC
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.web.adapters_status import start_status_server
from bus.web.app import create_web_app
from projections.app import create_projections_app, profile_projections
from projections.newborn_case.worker import INPUT_TOPICS as NEWBORN_INPUTS
from projections.newborn_case.worker import add_newborn_case
from projections.profiles.location import store_location
from projections.resolution.live import INPUT_TOPICS as RESOLUTION_INPUTS

log = logging.getLogger(__name__)


def capture_topics(specs: list[TableSpec]) -> list[TopicSpec]:
    topics = [POSITIONS_TOPIC_SPEC]
    for spec in specs:
        topics += [TopicSpec.history(spec.topic), TopicSpec.history(spec.quarantine_topic)]
    return topics


@asynccontextmanager
async def adapter_pipeline(settings: Settings) -> AsyncIterator[
        tuple[list[CaptureRunner], list[StandardizeStage]]]:
    """Every configured capture, and a standardize stage for every table with a mapping."""
    sources = [source for config in load_configured_sources(settings)
               for source in build_sources(config, settings.state_dir.resolve(),
                                           separate_processes=settings.separate_source_processes)]
    mappings = [m for m in (find_mapping(s.spec.department, s.spec.table) for s in sources) if m]
    bootstrap = settings.kafka_bootstrap
    await ensure_topics(bootstrap, capture_topics([s.spec for s in sources]) + [
        TopicSpec.history(m.target_topic) for m in mappings])
    registry = RegistryClient(settings.registry_url)
    serde = AvroSerde(registry)
    metrics_registry = CollectorRegistry()
    metrics = CaptureMetrics(metrics_registry)
    standardize_metrics = StandardizeMetrics(metrics_registry)
    runners = [CaptureRunner(source, bootstrap=bootstrap, serde=serde, metrics=metrics,
                             producer_factory=lambda owner: transactional_producer(bootstrap, owner),
                             pipeline=settings.capture_pipeline, workers=settings.capture_workers)
               for source in sources]
    stages: list[StandardizeStage] = []
    cleanups: list[Callable[[], Awaitable[None]]] = []
    try:
        for mapping in mappings:
            producer = transactional_producer(
                bootstrap, f"standardize.{mapping.department}.{mapping.table}")
            consumer = committed_reader(
                bootstrap, mapping.source_topic,
                group_id=f"bus.standardize.{mapping.department}.{mapping.table}")
            for client in (producer, consumer):
                await client.start()
                cleanups.append(client.stop)
            stages.append(StandardizeStage(mapping, consumer, producer, serde, standardize_metrics))
        status = await start_status_server(settings, runners, metrics_registry)
        cleanups.append(status.cleanup)
        yield runners, stages
    finally:
        for cleanup in reversed(cleanups):
            await cleanup()
        await registry.close()


async def run_adapters(settings: Settings) -> None:
    """Run every capture and standardize stage until SIGINT/SIGTERM; a failure stops all, loudly."""
    pace_collector(settings.capture_gc_threshold)  # this process streams rows
    stop = _stop_on_signals()
    async with adapter_pipeline(settings) as (runners, stages):
        tasks = [asyncio.create_task(_keep_failed(r.run(stop)), name=r.spec.owner)
                 for r in runners]
        tasks += [asyncio.create_task(s.run(stop), name=s.group_id) for s in stages]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


async def _keep_failed(capture: Awaitable[None]) -> None:
    """A misconfigured source fails alone (state ``failed``, in /status and /metrics); the
    other departments keep flowing. Any other error is a bug and stops the process."""
    with suppress(SourceMisconfigured):
        await capture


def run_projections(settings: Settings) -> None:
    """Run the faust worker of every projection (blocks; handles signals)."""
    from faust import Worker

    inputs = sorted({topic for p in profile_projections() for topic in p.topics} | set(NEWBORN_INPUTS)
                    | set(RESOLUTION_INPUTS))
    asyncio.run(ensure_topics(settings.kafka_bootstrap, [TopicSpec.history(t) for t in inputs]))
    app = create_projections_app(
        bootstrap=settings.kafka_bootstrap, registry_url=settings.registry_url,
        store_path=settings.projection_store_path,
        data_dir=(settings.state_dir / "faust").resolve(), app_id=settings.projections_app_id,
        read_store_url=settings.read_store_url,
    )
    add_newborn_case(app, bootstrap=settings.kafka_bootstrap, registry_url=settings.registry_url,
                     store_path=store_location("newborn_case",
                                               settings.projection_store_path("newborn_case").resolve(),
                                               settings.read_store_url))
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
