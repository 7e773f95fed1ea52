"""The write-back ledger: the one thing the bus adds to a legacy database.

Like Debezium's signalling table, three small tables live beside the department's own, created
by the sink on start (``CREATE TABLE IF NOT EXISTS``) and never touched by the department:

``rongtong_writeback``
    One row per input event the sink handled — event id (primary key), sink, legacy table and
    key, outcome (``written``, ``conflict_kept``, ``conflict_overwritten``, ``quarantined``),
    the fingerprint of the row after the write, the event's topic, partition and offset, and
    when. An event id found here is skipped: a replayed or re-sent event is a no-op.
``rongtong_writeback_row``
    Per legacy table and key, the fingerprint of the row as the sink last left it and the event
    that wrote it. The capture reads it to recognize its own writes (echo suppression,
    :mod:`adapters.capture.echo`); the sink reads it to notice a clerk's change since (conflict).
``rongtong_writeback_position``
    Per sink, topic and partition, the next offset to read. Written in the same transaction as
    the rows and the ledger, so a restart resumes exactly after the last committed batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.capture.echo import LEDGER_ROW_TABLE

__all__ = ["EVENTS_TABLE", "LEDGER_ROW_TABLE", "POSITIONS_TABLE", "LedgerSql", "ledger_sql"]

EVENTS_TABLE = "rongtong_writeback"
POSITIONS_TABLE = "rongtong_writeback_position"
OUTCOMES = ("written", "conflict_kept", "conflict_overwritten", "quarantined")


@dataclass(frozen=True)
class LedgerSql:
    """The ledger's statements in one engine's dialect (positional placeholders ``p``)."""

    ddl: tuple[str, ...]
    seen_events: str          # + an IN list of event ids
    row_hashes: str           # + an IN list of record keys; first parameter the table
    insert_event: str
    upsert_row: str
    upsert_position: str
    positions: str


def ledger_sql(engine: str) -> LedgerSql:
    """Ledger statements for ``sqlite``, ``postgres`` or ``mariadb``."""
    p = "?" if engine == "sqlite" else "%s"
    text, key_text = ("VARCHAR(191)", "VARCHAR(191)") if engine == "mariadb" else ("TEXT", "TEXT")
    big = "INTEGER" if engine == "sqlite" else "BIGINT"
    stamp = "VARCHAR(40)" if engine == "mariadb" else "TEXT"
    suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if engine == "mariadb" else ""
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} ("
        f"event_id {key_text} NOT NULL PRIMARY KEY, sink {text} NOT NULL, "
        f"table_name {text} NOT NULL, record_key {text}, outcome VARCHAR(32) NOT NULL, "
        f"row_hash VARCHAR(64), topic {text} NOT NULL, kafka_partition INTEGER NOT NULL, "
        f"kafka_offset {big} NOT NULL, written_at {stamp} NOT NULL){suffix}",
        f"CREATE TABLE IF NOT EXISTS {LEDGER_ROW_TABLE} ("
        f"table_name {text} NOT NULL, record_key {key_text} NOT NULL, row_hash VARCHAR(64) NOT NULL, "
        f"event_id {text} NOT NULL, written_at {stamp} NOT NULL, "
        f"PRIMARY KEY (table_name, record_key)){suffix}",
        f"CREATE TABLE IF NOT EXISTS {POSITIONS_TABLE} ("
        f"sink {text} NOT NULL, topic {text} NOT NULL, kafka_partition INTEGER NOT NULL, "
        f"next_offset {big} NOT NULL, PRIMARY KEY (sink, topic, kafka_partition)){suffix}",
    )
    if engine == "mariadb":
        upsert_row = (f"INSERT INTO {LEDGER_ROW_TABLE} (table_name, record_key, row_hash, event_id, "
                      f"written_at) VALUES ({p}, {p}, {p}, {p}, {p}) ON DUPLICATE KEY UPDATE "
                      "row_hash = VALUES(row_hash), event_id = VALUES(event_id), "
                      "written_at = VALUES(written_at)")
        upsert_position = (f"INSERT INTO {POSITIONS_TABLE} (sink, topic, kafka_partition, next_offset) "
                           f"VALUES ({p}, {p}, {p}, {p}) ON DUPLICATE KEY UPDATE "
                           "next_offset = VALUES(next_offset)")
    else:
        upsert_row = (f"INSERT INTO {LEDGER_ROW_TABLE} (table_name, record_key, row_hash, event_id, "
                      f"written_at) VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (table_name, "
                      "record_key) DO UPDATE SET row_hash = excluded.row_hash, "
                      "event_id = excluded.event_id, written_at = excluded.written_at")
        upsert_position = (f"INSERT INTO {POSITIONS_TABLE} (sink, topic, kafka_partition, next_offset) "
                           f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (sink, topic, kafka_partition) "
                           "DO UPDATE SET next_offset = excluded.next_offset")
    return LedgerSql(
        ddl=ddl,
        seen_events=f"SELECT event_id FROM {EVENTS_TABLE} WHERE event_id IN ",
        row_hashes=(f"SELECT record_key, row_hash FROM {LEDGER_ROW_TABLE} "
                    f"WHERE table_name = {p} AND record_key IN "),
        insert_event=(f"INSERT INTO {EVENTS_TABLE} (event_id, sink, table_name, record_key, outcome, "
                      "row_hash, topic, kafka_partition, kafka_offset, written_at) VALUES "
                      f"({', '.join([p] * 10)})"),
        upsert_row=upsert_row,
        upsert_position=upsert_position,
        positions=(f"SELECT kafka_partition, next_offset FROM {POSITIONS_TABLE} "
                   f"WHERE sink = {p} AND topic = {p}"),
    )
