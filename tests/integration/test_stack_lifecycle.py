"""`bus stack up|down|status` on a stack of its own: idempotent up, clean down."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bus.serde.registry_client import RegistryClient
from bus.stack.local import LocalStack
from tests.conftest import isolated_settings

pytestmark = pytest.mark.integration


def test_up_is_idempotent_status_reports_each_component_and_down_stops_both(
    tmp_path: Path,
) -> None:
    stack = LocalStack(isolated_settings(tmp_path / "state"))
    try:
        first = stack.up(timeout=180)
        assert first.started == ("kafka", "registry")
        assert first.healthy
        kafka_pid = stack.kafka.pid()

        second = stack.up(timeout=180)
        assert second.started == ()
        assert stack.kafka.pid() == kafka_pid

        status = {c.name: c for c in stack.status().components}
        assert status["kafka"].running and status["kafka"].answering
        assert status["registry"].running and status["registry"].answering
        assert status["kafka"].log_file.is_relative_to(tmp_path / "state")
        assert (tmp_path / "state" / "kafka" / "data" / "meta.properties").exists()
    finally:
        stopped = stack.down()

    assert stopped == ["registry", "kafka"]
    after = stack.status()
    assert not after.healthy
    assert not any(c.running for c in after.components)


def test_schema_ids_survive_a_restart_of_the_whole_stack(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path / "state")
    stack = LocalStack(settings)
    first = {"type": "record", "name": "A", "fields": [{"name": "x", "type": "string"}]}
    second = {"type": "record", "name": "B", "fields": [{"name": "y", "type": "long"}]}

    async def register(schema: dict[str, object], subject: str = "restart-value") -> int:
        async with RegistryClient(settings.registry_url) as client:
            return await client.register(subject, schema)

    async def fetch(schema_id: int) -> str:
        async with RegistryClient(settings.registry_url) as client:
            return await client.schema_by_id(schema_id)

    try:
        stack.up(timeout=180)
        first_id = asyncio.run(register(first))
        stack.down()
        stack.up(timeout=180)
        assert json.loads(asyncio.run(fetch(first_id)))["name"] == "A"
        assert asyncio.run(register(first)) == first_id
        assert asyncio.run(register(second, "other-value")) == first_id + 1
    finally:
        stack.down()


def test_the_demo_stack_also_runs_the_departments_postgresql_and_mariadb(tmp_path: Path) -> None:
    import psycopg2
    import pymysql

    from tests.conftest import free_port

    settings = isolated_settings(tmp_path / "state").model_copy(update={
        "legacy_postgres_port": free_port(), "legacy_mariadb_port": free_port()})
    stack = LocalStack(settings, legacy_databases=True)
    try:
        report = stack.up(timeout=180)
        assert {"postgresql", "mariadb"} <= set(report.started)
        assert report.healthy
        with psycopg2.connect(stack.postgres.dsn("scjg")) as pg, pg.cursor() as cursor:
            cursor.execute("SHOW wal_level")
            assert cursor.fetchone() == ("logical",)
        maria = pymysql.connect(**stack.mariadb.connection("rsj"))  # type: ignore[arg-type]
        try:
            with maria.cursor() as cursor:
                cursor.execute("SELECT @@binlog_format, @@binlog_row_image")
                assert cursor.fetchone() == ("ROW", "FULL")
        finally:
            maria.close()
        assert stack.up(timeout=180).started == ()
        # The demo stops only what it started: the rest keeps answering.
        assert stack.down(only=("mariadb",)) == ["mariadb"]
        report = stack.status()
        answering = {c.name for c in report.components if c.answering}
        assert answering == {"kafka", "registry", "postgresql"}
    finally:
        stopped = stack.down()
    assert {"postgresql", "registry", "kafka"} <= set(stopped)
