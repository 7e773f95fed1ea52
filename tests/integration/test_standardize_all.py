"""Every new mapping through a real StandardizeStage: raw change events in, std.* and quarantine.* out.

Raw events are produced as the capture produces them (Debezium-like envelope, every column as
text, CloudEvents headers) to ``legacy.<dept>.<table>``; one stage per mapping runs against the
real broker and registry, and the canonical and quarantine topics are read back decoded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from adapters.capture.change_event import (
    SourceInfo,
    change_event_id,
    change_key_schema,
    change_record,
    change_value_schema,
)
from adapters.standardize.mapping import Mapping, load_mapping
from adapters.standardize.stage import StandardizeStage
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, committed_reader, ensure_topics, transactional_producer
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from tests.e2e.harness import TopicContents, read_topic

pytestmark = pytest.mark.integration

ID18 = "330106199003071236"
ID15 = "330106900307123"
WIFE = "330102199205080020"
CODE = "91330106MA27U0XHXJ"
BAD_ID = ID18[:17] + "0"
BAD_CODE = CODE[:17] + "0"
FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")

Row = dict[str, str | None]
#: Per mapping: (key column value, row) accepted, then one the stage must quarantine, and its rule.
CASES: dict[str, tuple[Row, Row, str]] = {
    "rsj.ac01": (
        {"AAC001": "330100000001", "AAC002": ID15, "AAC003": "王 小明", "AAC004": "M", "AAC006": "1990-03-07",
         "AAB001": CODE.lower(), "AAC008": "1", "AAE036": "2024-05-06 08:30:00"},
        {"AAC001": "330100000002", "AAC002": BAD_ID, "AAC003": "王小明", "AAC004": "M",
         "AAC006": "1990-03-07", "AAB001": None, "AAC008": "1", "AAE036": "2024-05-06 08:30:00"},
        "id.checksum"),
    "scjg.qy_jbxx": (
        {"TYSHXYDM": CODE, "QYMC": "杭州恒泰网络科技有限公司",
         "FDDBR_SFZH": ID18.translate(FULL), "FDDBR_XM": "王小明", "ZCZB": "100.0000",
         "CLRQ": "2016-04-01", "DJZT": "在业",
         "GXSJ": "2024-05-20 09:00:00"},
        {"TYSHXYDM": BAD_CODE, "QYMC": "杭州华信贸易有限公司", "FDDBR_SFZH": ID18, "FDDBR_XM": "王小明",
         "ZCZB": "10", "CLRQ": "2016-04-01", "DJZT": "存续", "GXSJ": "2024-05-20 09:00:01"},
        "credit_code.checksum"),
    "sw.swdj": (
        {"NSRSBH": f" {CODE[:8]} {CODE[8:]} ", "NSRMC": "杭州恒泰网络科技有限公司", "FDDBR": "王小明",
         "DJZT": "05", "DJRQ": "2016-05-01", "XGSJ": "2024-05-27 08:00:00"},
        {"NSRSBH": CODE, "NSRMC": "杭州恒泰网络科技有限公司", "FDDBR": "王小明", "DJZT": "04",
         "DJRQ": "2016-05-01", "XGSJ": "2024-05-27 08:00:01"},
        "tax_status.unknown_code"),
    "wsjk.csyxzm": (
        {"CSZMBH": "Q330000001", "XSEXM": "王安", "XSEXB": "女", "CSRQ": "2025年3月7日", "CSSJ": "0835",
         "MQ_SFZH": WIFE, "MQ_XM": "李娜", "FQ_SFZH": None, "FQ_XM": None, "CSDD": "杭州市妇产科医院",
         "QFRQ": "2025-03-10", "GXSJ": "2025-03-10 09:00:00"},
        {"CSZMBH": "Q330000002", "XSEXM": "王乐", "XSEXB": "1", "CSRQ": "2025年2月30日", "CSSJ": "08:35",
         "MQ_SFZH": WIFE, "MQ_XM": "李娜", "FQ_SFZH": ID18, "FQ_XM": "王小明", "CSDD": "杭州市妇产科医院",
         "QFRQ": "2025-03-10", "GXSJ": "2025-03-10 09:00:01"},
        "date.invalid"),
    "mz.hydj": (
        {"DJBH": "HY00000001", "NF_SFZH": ID18, "NF_XM": "王小明", "NV_SFZH": WIFE, "NV_XM": "李娜",
         "DJRQ": "2015年10月1日", "DJLX": "结婚"},
        {"DJBH": "HY00000002", "NF_SFZH": ID18, "NF_XM": "王小明", "NV_SFZH": BAD_ID, "NV_XM": "李娜",
         "DJRQ": "2015年10月1日", "DJLX": "结婚"},
        "id.checksum"),
    "mz.dbjz": (
        {"JZBH": "DB00000001", "SFZH": ID15, "XM": "王小明", "JZLX": "特困", "JE": "880.00",
         "FFRQ": "20240515"},
        {"JZBH": "DB00000002", "SFZH": ID18, "XM": "王小明", "JZLX": "低保", "JE": "八百",
         "FFRQ": "20240515"},
        "amount.format"),
}
EXPECTED: dict[str, dict[str, Any]] = {
    "rsj.ac01": {"insurance_number": "330100000001", "identity_number": ID18, "name": "王小明",
                 "sex_code": "1", "employer_credit_code": CODE, "status_code": "paying"},
    "scjg.qy_jbxx": {"credit_code": CODE, "legal_rep_identity_number": ID18,
                     "registered_capital": Decimal("100.0000"), "status_code": "existing"},
    "sw.swdj": {"taxpayer_id": CODE, "status_code": "suspended", "registration_date": date(2016, 5, 1)},
    "wsjk.csyxzm": {"certificate_number": "Q330000001", "newborn_sex_code": "2",
                    "birth_date": date(2025, 3, 7), "birth_time": time(8, 35),
                    "father_identity_number": None},
    "mz.hydj": {"registration_number": "HY00000001", "registration_date": date(2015, 10, 1),
                "registration_type": "marriage"},
    "mz.dbjz": {"assistance_number": "DB00000001", "identity_number": ID18,
                "assistance_type": "extreme_poverty", "amount": Decimal("880.00")},
}


def raw_changes(mapping: Mapping) -> Iterator[tuple[str, Row | None, Row | None]]:
    good, bad, _ = CASES[f"{mapping.department}.{mapping.table}"]
    yield "r", None, good
    yield "c", None, bad
    yield "d", good, None  # the accepted row is deleted again: a tombstone follows on std.<entity>


async def publish_raw(stack: Settings, serde: AvroSerde, mapping: Mapping) -> int:
    columns = list(CASES[f"{mapping.department}.{mapping.table}"][0])
    value_schema = change_value_schema(mapping.department, mapping.table, columns)
    key_schema = change_key_schema(mapping.department, mapping.table, [mapping.key_column])
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    sent = 0
    try:
        for position, (op, before, after) in enumerate(raw_changes(mapping)):
            row = after or before or {}
            record_key = row[mapping.key_column] or ""
            source = SourceInfo(mapping.department, "test", mapping.department, mapping.table, str(position),
                                op == "r", 1_717_400_000_000 + position)
            value = await serde.encode(subject_for(mapping.source_topic), value_schema,
                                       change_record(op, before, after, source, 1_717_400_000_500))
            key = await serde.encode(subject_for(mapping.source_topic, is_key=True), key_schema,
                                     {mapping.key_column: record_key})
            event = CloudEvent(f"rongtong.legacy.{mapping.table}.changed",
                               f"/adapters/{mapping.department}/{mapping.table}",
                               id=change_event_id(mapping.department, mapping.table, record_key, row),
                               subject=record_key, dataclassification="sensitive_personal")
            await producer.send_and_wait(mapping.source_topic, key=key, value=value,
                                         headers=event.to_headers())
            sent += 1
    finally:
        await producer.stop()
    return sent


async def test_every_new_mapping_standardizes_through_kafka(stack: Settings) -> None:
    mappings = [load_mapping(name) for name in CASES]
    topics = [topic for m in mappings for topic in (m.source_topic, m.target_topic, m.quarantine_topic)]
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(topic) for topic in topics])
    run = uuid.uuid4().hex[:8]
    stop = asyncio.Event()
    async with RegistryClient(stack.registry_url) as registry:
        serde = AvroSerde(registry)
        sent = {m.table: await publish_raw(stack, serde, m) for m in mappings}
        stages, clients = [], []
        for mapping in mappings:
            producer = transactional_producer(stack.kafka_bootstrap, f"test.{run}.{mapping.table}")
            consumer = committed_reader(stack.kafka_bootstrap, mapping.source_topic,
                                        group_id=f"test.{run}.{mapping.table}")
            for client in (producer, consumer):
                await client.start()
                clients.append(client)
            stages.append(StandardizeStage(mapping, consumer, producer, serde))
        tasks = [asyncio.create_task(stage.run(stop)) for stage in stages]
        try:
            for _ in range(240):
                if all(s.accepted + sum(s.quarantined.values()) >= sent[s.mapping.table] for s in stages):
                    break
                await asyncio.sleep(0.25)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for client in reversed(clients):
                await client.stop()

    for stage in stages:
        mapping = stage.mapping
        name = f"{mapping.department}.{mapping.table}"
        assert (stage.accepted, dict(stage.quarantined)) == (2, {CASES[name][2]: 1}), name
        canonical = read_topic(stack.kafka_bootstrap, stack.registry_url, mapping.target_topic)
        check_canonical(mapping, canonical, stage.entity.key_field)
        quarantined = read_topic(stack.kafka_bootstrap, stack.registry_url, mapping.quarantine_topic,
                                 decode_keys=False)
        bad = CASES[name][1]
        # (Other tests of the run may quarantine rows of the same table: look for this one.)
        [refused] = [r for r in quarantined.records if r and r["department"] == mapping.department
                     and r["table"] == mapping.table and r["original"] == bad]
        assert refused["rule_id"] == CASES[name][2]
        assert refused["message_zh"] and refused["message_en"]
        assert refused["original"] == bad
        assert refused["record_key"] == bad[mapping.key_column]


def check_canonical(mapping: Mapping, contents: TopicContents, key_field: str) -> None:
    upsert, tombstone = contents.records[-2:]
    assert tombstone is None
    assert upsert is not None
    expected = EXPECTED[f"{mapping.department}.{mapping.table}"]
    assert {field: upsert[field] for field in expected} == expected
    assert upsert["source"]["department"] == mapping.department
    assert upsert["source"]["table"] == mapping.table
    assert upsert["source"]["op"] == "r"
    assert contents.keys[-1] == contents.keys[-2] == {key_field: upsert[key_field]}
    types = [headers["ce_type"] for headers in contents.headers[-2:]]
    entity = mapping.entity
    assert types == [f"rongtong.std.{entity}.upserted", f"rongtong.std.{entity}.deleted"]
    assert contents.headers[-1]["dataclassification"] in ("internal", "personal", "sensitive_personal")
