"""Settings of every bus process, read from ``BUS_*`` environment variables.

Nothing reads the environment at import time: call :func:`load_settings` in a composition
root (the CLI, a test fixture) and pass the result down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the bus; each one is documented in ``docs/operations.md``."""

    model_config = SettingsConfigDict(env_prefix="BUS_", extra="ignore")

    state_dir: Path = Field(
        default=Path(".rongtong"),
        description="Directory holding logs, Kafka data, legacy demo databases and read stores.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "rongtong",
        description="Directory caching downloaded Kafka jars, shared by all state directories.",
    )
    kafka_version: str = Field(default="4.1.1", description="Apache Kafka version of the local stack.")
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers (host:port)."
    )
    kafka_controller_port: int = Field(
        default=9093, description="KRaft controller port of the local single-node stack."
    )
    kafka_heap: str = Field(default="768m", description="Java heap of the local Kafka broker.")
    registry_url: str = Field(
        default="http://127.0.0.1:8081", description="Confluent-compatible schema registry URL."
    )
    web_host: str = Field(default="127.0.0.1", description="Interface the web service binds.")
    web_port: int = Field(default=8080, description="Port of the query API and dashboard.")
    capture_poll_interval: float = Field(
        default=1.0, description="Seconds between two polls of a legacy table."
    )
    capture_batch_size: int = Field(
        default=500, description="Rows read from a legacy table per poll and Kafka transaction."
    )
    capture_pipeline: bool = Field(
        default=True,
        description="Read the next batches of a capture while earlier ones are built and "
                    "committed (snapshot and incremental strategies), the batches read meanwhile "
                    "sharing the next transaction; checkpoints still follow Kafka's "
                    "acknowledgement, in order.",
    )
    capture_gc_threshold: int = Field(
        default=100_000, ge=0,
        description="Net allocations between two young-generation passes of Python's cycle "
                    "collector in `bus adapters run` (Python's default 700; 0 keeps it): "
                    "captured rows are freed by reference counting, frequent passes only cost.",
    )
    capture_workers: int = Field(
        default=0, ge=0,
        description="Worker processes that build capture records (Avro, envelope, event ids) "
                    "of pipelined captures; 0 builds them in the capture process.",
    )

    capture_source_process: Literal["auto", "true", "false"] = Field(
        default="auto",
        description="Run each capture source (reading the legacy table, its text images and "
                    "changes) in a child process of its own, so reading and publishing use two "
                    "cores; auto: for PostgreSQL and SQLite, where it measured faster "
                    "(docs/capture.md).",
    )

    @property
    def separate_source_processes(self) -> bool | None:
        """``capture_source_process`` for ``build_sources``: None lets each engine decide."""
        return {"auto": None, "true": True, "false": False}[self.capture_source_process]

    read_store_url: str | None = Field(
        default=None,
        description="PostgreSQL database of the profile read stores (postgresql://…), each "
                    "projection in a schema named after it; unset: SQLite files in the state dir.",
    )
    projections_app_id: str = Field(
        default="rongtong-projections",
        description="faust app id (Kafka consumer group) of the projection workers; workers with "
                    "the same id split the input partitions.",
    )

    jwt_secret: str | None = Field(
        default=None,
        description="Secret verifying JWT bearer tokens (HS256) of clients and citizens; unset: "
                    "only API keys are accepted.",
    )

    api_rate: float = Field(
        default=200.0, description="Requests per second each API client may make on average.")
    api_burst: int = Field(default=400, description="Requests an API client may make at once.")

    adapters_config: Path | None = Field(
        default=None,
        description="Adapter configuration (YAML); the reference government's when unset.",
    )
    adapters_host: str = Field(default="127.0.0.1", description="Interface of the adapters' status server.")
    adapters_port: int = Field(
        default=8091, description="Port of the adapters' /status and /metrics."
    )

    ops_sample_interval: float = Field(
        default=2.0, description="Seconds between two samples of Kafka, the adapters and the "
                                 "projections by the ops dashboard's collector.")
    ops_session_minutes: float = Field(
        default=30.0, description="Minutes a dashboard sign-in (session cookie) lasts.")
    replay_mappings_dir: Path | None = Field(
        default=None,
        description="Directory of fixed mapping files (<department>.<table>.yaml) that replays "
                    "from the dashboard use instead of the shipped mapping of their table.")

    writeback_config: Path | None = Field(
        default=None,
        description="Write-back sink configuration (YAML); adapters/config/writeback.yaml when unset.",
    )
    writeback_batch_size: int = Field(
        default=200, description="Events a write-back sink applies per legacy-database transaction.")
    sinks_host: str = Field(default="127.0.0.1", description="Interface of the sinks' status server.")
    sinks_port: int = Field(default=8092, description="Port of the sinks' /status and /metrics.")

    legacy_postgres_port: int = Field(
        default=5433, description="Port of the demo's PostgreSQL legacy server (市场监管)."
    )
    legacy_mariadb_port: int = Field(
        default=3307, description="Port of the demo's MariaDB legacy server (人社, 税务)."
    )

    webhooks_host: str = Field(default="127.0.0.1",
                               description="Interface of the webhook dispatcher's /healthz and /metrics.")
    webhooks_port: int = Field(default=8094, description="Port of the webhook dispatcher's "
                               "/healthz and /metrics.")
    webhooks_max_attempts: int = Field(
        default=8, ge=1, description="Attempts per event and webhook before it is dead-lettered.")
    webhooks_backoff_base: float = Field(
        default=1.0, ge=0, description="Seconds: the longest wait after a webhook's first failed "
                                       "attempt; it doubles per attempt (full jitter).")
    webhooks_backoff_cap: float = Field(
        default=600.0, ge=0, description="Seconds: the longest wait between two attempts.")
    webhooks_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a webhook receiver has to answer a POST.")
    webhooks_concurrency: int = Field(
        default=32, ge=1, description="Webhook POSTs in flight at once, across all webhooks.")
    webhooks_reload_seconds: float = Field(
        default=1.0, gt=0, description="Seconds between two looks for new or deleted webhooks.")
    webhooks_allowed_hosts: str = Field(
        default="", description="Host names and CIDR networks webhooks may reach although they "
                                "are internal (loopback, private, link-local), comma-separated.")
    webhooks_rotation_grace: float = Field(
        default=86400.0, ge=0, description="Seconds a rotated webhook secret keeps signing "
                                           "beside the new one.")

    @property
    def adapters_url(self) -> str:
        return f"http://{self.adapters_host}:{self.adapters_port}"

    @property
    def sinks_url(self) -> str:
        return f"http://{self.sinks_host}:{self.sinks_port}"

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.rsplit(":", 1)[1])

    @property
    def kafka_host(self) -> str:
        return self.kafka_bootstrap.rsplit(":", 1)[0]

    @property
    def registry_host(self) -> str:
        return urlsplit(self.registry_url).hostname or "127.0.0.1"

    @property
    def registry_port(self) -> int:
        return urlsplit(self.registry_url).port or 8081

    @property
    def legacy_dir(self) -> Path:
        return self.state_dir / "legacy"

    @property
    def gongan_db_path(self) -> Path:
        """SQLite file of the Public Security household register (公安户籍) in the demo."""
        return self.legacy_dir / "gongan.sqlite"

    @property
    def read_store_path(self) -> Path:
        """The ``citizen_profile`` read store."""
        return self.projection_store_path("citizen_profile")

    def projection_store_path(self, projection: str) -> Path:
        """The SQLite read store of a projection."""
        return self.state_dir / "projections" / f"{projection}.sqlite"

    @property
    def access_dir(self) -> Path:
        """The client store (API key digests) and the cursor key of the web service."""
        return self.state_dir / "access"

    @property
    def clients_path(self) -> Path:
        return self.access_dir / "clients.sqlite"

    @property
    def webhooks_path(self) -> Path:
        """Webhook registrations, their positions and the delivery log."""
        return self.state_dir / "webhooks" / "webhooks.sqlite"

    @property
    def web_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
