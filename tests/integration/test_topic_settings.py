"""Existing topics are checked against what the bus keeps in them (a real broker): a topic
the bus keeps compacted that deletes instead (created by a consumer reading it first) is
made compacted, keeping its other settings, and where that is refused the process stops
with the command that fixes it; a history topic that expires or compacts events is logged."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from click.testing import CliRunner

from bus import cli
from bus.kafka import TopicMisconfigured, TopicSpec, ensure_topics
from bus.settings import Settings

pytestmark = pytest.mark.integration


async def create(bootstrap: str, name: str, config: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs=config)])
    finally:
        await admin.close()


def a_name(kind: str) -> str:
    return f"test.settings.{kind}.{uuid.uuid4().hex[:8]}"


async def settings_of(bootstrap: str, name: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        [(_code, _message, _type, _name, entries)] = response.resources
        return {entry[0]: entry[1] for entry in entries}
    finally:
        await admin.close()


async def test_a_compacted_topic_that_deletes_is_made_compacted_keeping_its_other_settings(
        stack: Settings, caplog: pytest.LogCaptureFixture) -> None:
    name = a_name("positions")
    await create(stack.kafka_bootstrap, name, {"cleanup.policy": "delete", "retention.ms": "86400000"})

    with caplog.at_level(logging.WARNING, logger="bus.kafka"):
        await ensure_topics(stack.kafka_bootstrap, [TopicSpec.compacted(name, roll_after_ms=600_000)])

    settings = await settings_of(stack.kafka_bootstrap, name)
    assert settings["cleanup.policy"] == "compact"
    assert settings["segment.ms"] == "600000" and settings["min.cleanable.dirty.ratio"] == "0.1"
    assert settings["retention.ms"] == "86400000"  # an operator's setting stays
    [record] = caplog.records
    assert f"topic {name} exists with cleanup.policy=delete" in record.getMessage()


async def test_a_refused_change_stops_with_the_command_that_fixes_it(
        stack: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    name = a_name("positions")
    await create(stack.kafka_bootstrap, name, {"cleanup.policy": "delete"})

    # What a broker without ALTER_CONFIGS rights for the bus answers.
    refused = SimpleNamespace(resources=[(29, "Topic authorization failed.", 2, name)])

    async def refuse(self: AIOKafkaAdminClient, resources: object) -> list[SimpleNamespace]:
        return [refused]

    monkeypatch.setattr(AIOKafkaAdminClient, "alter_configs", refuse)
    with pytest.raises(TopicMisconfigured) as raised:
        await ensure_topics(stack.kafka_bootstrap, [TopicSpec.compacted(name)])

    message = str(raised.value)
    assert f"topic {name} exists with cleanup.policy=delete and changing it was refused" in message
    assert "Topic authorization failed." in message
    assert (f"kafka-configs.sh --bootstrap-server {stack.kafka_bootstrap} --alter --entity-type "
            f"topics --entity-name {name} --add-config cleanup.policy=compact") in message
    assert (await settings_of(stack.kafka_bootstrap, name))["cleanup.policy"] == "delete"


async def test_topics_the_bus_created_or_that_also_compact_pass_quietly(
        stack: Settings, caplog: pytest.LogCaptureFixture) -> None:
    compacted, both, history = a_name("compacted"), a_name("both"), a_name("history")
    await create(stack.kafka_bootstrap, both, {"cleanup.policy": "compact,delete"})
    specs = [TopicSpec.compacted(compacted), TopicSpec.compacted(both), TopicSpec.history(history)]
    await ensure_topics(stack.kafka_bootstrap, specs)

    with caplog.at_level(logging.WARNING, logger="bus.kafka"):
        await ensure_topics(stack.kafka_bootstrap, specs)  # now every one exists

    assert caplog.records == []


@pytest.mark.parametrize(("config", "named"), [
    ({"retention.ms": "604800000"}, "retention.ms=604800000"),
    ({"retention.ms": "-1", "retention.bytes": "1073741824"}, "retention.bytes=1073741824"),
    ({"retention.ms": "-1", "cleanup.policy": "compact"}, "cleanup.policy=compact"),
])
async def test_a_history_topic_that_loses_events_is_logged(
        stack: Settings, caplog: pytest.LogCaptureFixture, config: dict[str, str],
        named: str) -> None:
    name = a_name("history")
    await create(stack.kafka_bootstrap, name, config)

    with caplog.at_level(logging.WARNING, logger="bus.kafka"):
        await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(name)])

    [record] = caplog.records
    assert name in record.getMessage() and named in record.getMessage()
    assert "retention.ms=-1,retention.bytes=-1,cleanup.policy=delete" in record.getMessage()


def test_the_adapters_process_stops_with_the_message_and_no_traceback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def misconfigured(settings: Settings) -> None:
        raise TopicMisconfigured("topic rongtong.positions exists with cleanup.policy=delete")

    monkeypatch.setattr("bus.bootstrap.run_adapters", misconfigured)
    result = CliRunner().invoke(cli.main, ["adapters", "run"])

    assert result.exit_code != 0
    assert "topic rongtong.positions exists with cleanup.policy=delete" in result.output
    assert "Traceback" not in result.output
