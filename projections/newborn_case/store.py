"""The read store of ``newborn_case`` (SQLite): facts, cases, every version, positions, outbox.

One transaction per batch of input events holds everything they change: the fact tables
(certificates, applications, the register's persons, insurance enrolments), every affected
case's new version, the outbox message of each new version, the commands to departments it
opens (``commands``) with their own outbox, and the input positions. Each event
of a batch is applied in order as it would be alone (its own versions at its own Kafka time);
only the commit is shared. An event at or before the stored position changes nothing, so a
redelivered event after a crash is harmless, and a crash mid-batch leaves none of the batch.

Facts are kept whether or not they match a case yet (*pending facts*): each input event
re-correlates the cases it may concern (``correlate``) and feeds the differences to the pure
core (``model.decide``). Every version of a case is kept with the Kafka time of the event that
caused it, so :func:`read_case` answers *as of* any past time, and a rebuild from the log writes
the very same versions.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projections.newborn_case.commands import COMMAND_TOPICS, IssuedCommand, command_body, command_id
from projections.newborn_case.correlate import (
    PersonRecord,
    application_event,
    certificate_event,
    insurance_fact,
    insurance_of,
    newborn_household,
    person_record,
    referenced_certificate,
    source_of,
)
from projections.newborn_case.model import (
    CaseEvent,
    CaseState,
    Certificate,
    Household,
    Insurance,
    Kind,
    Message,
    Source,
    decide,
    outstanding,
)
from projections.profiles.location import StoreLocation
from projections.profiles.pg import PostgresDatabase, PostgresSchema
from projections.profiles.store import InputPosition
from projections.read_store import Database, ReadStore, SqliteConnection, connect

__all__ = ["INPUT_TOPICS", "CaseStore", "StoredCase", "read_case"]

INPUT_TOPICS = ("std.birth_certificate", "std.service_case", "std.person", "std.social_insurance")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS certificate (
    certificate_number TEXT PRIMARY KEY,
    birth_date         TEXT NOT NULL,
    newborn_name       TEXT NOT NULL,
    newborn_sex_code   TEXT NOT NULL,
    mother             TEXT NOT NULL,
    father             TEXT
);
CREATE INDEX IF NOT EXISTS certificate_by_newborn ON certificate (birth_date, newborn_name, newborn_sex_code);
CREATE INDEX IF NOT EXISTS certificate_by_mother ON certificate (mother);
CREATE INDEX IF NOT EXISTS certificate_by_father ON certificate (father);
CREATE TABLE IF NOT EXISTS application (
    case_id            TEXT PRIMARY KEY,
    certificate_number TEXT
);
CREATE TABLE IF NOT EXISTS person (
    identity_number   TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    sex_code          TEXT NOT NULL,
    birth_date        TEXT NOT NULL,
    division_code     TEXT,
    household_address TEXT,
    source            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS person_by_birth ON person (birth_date, name, sex_code);
CREATE TABLE IF NOT EXISTS insurance (
    insurance_number TEXT PRIMARY KEY,
    identity_number  TEXT NOT NULL,
    status_code      TEXT NOT NULL,
    source           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS insurance_by_identity ON insurance (identity_number);
CREATE TABLE IF NOT EXISTS newborn_case (
    certificate_number TEXT PRIMARY KEY,
    version            INTEGER NOT NULL,
    status             TEXT NOT NULL,
    newborn_identity   TEXT,
    believed_at_ms     INTEGER NOT NULL,
    state              TEXT NOT NULL,
    document           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_by_newborn ON newborn_case (newborn_identity);
CREATE TABLE IF NOT EXISTS case_version (
    certificate_number TEXT NOT NULL,
    version            INTEGER NOT NULL,
    believed_at_ms     INTEGER NOT NULL,
    status             TEXT NOT NULL,
    document           TEXT NOT NULL,
    cause_topic        TEXT NOT NULL,
    cause_partition    INTEGER NOT NULL,
    cause_offset       INTEGER NOT NULL,
    PRIMARY KEY (certificate_number, version)
);
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT NOT NULL,
    body            TEXT NOT NULL,
    cause_topic     TEXT NOT NULL DEFAULT '',
    cause_partition INTEGER NOT NULL DEFAULT -1,
    cause_offset    INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS command (
    command_id         TEXT PRIMARY KEY,
    certificate_number TEXT NOT NULL,
    case_id            TEXT NOT NULL,
    name               TEXT NOT NULL,
    open               INTEGER NOT NULL,
    issued_at_ms       INTEGER NOT NULL,
    body               TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS command_by_case ON command (certificate_number, open);
CREATE INDEX IF NOT EXISTS command_by_application ON command (case_id, name);
CREATE TABLE IF NOT EXISTS command_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id      TEXT NOT NULL,
    cause_topic     TEXT NOT NULL DEFAULT '',
    cause_partition INTEGER NOT NULL DEFAULT -1,
    cause_offset    INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS outbox_floor (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS outbox_lease (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS projection_position (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""
#: Columns a store written before they existed gets on open (``ALTER TABLE … ADD COLUMN``).
_ADDED_COLUMNS = {
    "outbox": ("cause_topic TEXT NOT NULL DEFAULT ''", "cause_partition INTEGER NOT NULL DEFAULT -1",
               "cause_offset INTEGER NOT NULL DEFAULT -1"),
    "command_outbox": ("cause_topic TEXT NOT NULL DEFAULT ''",
                       "cause_partition INTEGER NOT NULL DEFAULT -1",
                       "cause_offset INTEGER NOT NULL DEFAULT -1"),
}


#: Layout of the PostgreSQL schema (a schema of another layout is set aside and rebuilt).
FORMAT = 1


class _SqliteFile(SqliteConnection):
    """A case store file, its tables created (and columns added to those of older stores)."""

    def __init__(self, path: Path) -> None:
        super().__init__(connect(path))
        self.connection.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            present = {str(r["name"]) for r in self.connection.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in present:
                    self.connection.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def open_case_database(location: StoreLocation) -> Database:
    """A writer's connection to the case store at ``location`` (a SQLite file, or the schema
    ``newborn_case`` in the PostgreSQL database of ``BUS_READ_STORE_URL``), tables created."""
    if isinstance(location, PostgresSchema):
        postgres = PostgresDatabase(location)
        postgres.prepare(_SCHEMA, FORMAT)
        return postgres
    return _SqliteFile(location)


@dataclass(frozen=True)
class StoredCase:
    certificate_number: str
    version: int
    believed_at_ms: int
    document: dict[str, Any]


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _source_json(source: Source) -> str:
    return _dumps([source.department, source.table, source.record_key, source.event_id])


def _source(text: str) -> Source:
    department, table, record_key, event_id = json.loads(text)
    return Source(department, table, record_key, event_id)


def case_document(state: CaseState, version: int, at: InputPosition, cause: Source | None
                  ) -> dict[str, Any]:
    """The projection record of a case version (JSON; the publisher makes it Avro)."""
    certificate, application = state.certificate, state.application
    household, insurance = state.household, state.insurance
    return {
        "certificate_number": state.certificate_number, "version": version,
        "believed_at": at.timestamp_ms, "status": str(state.status),
        "awaiting": list(outstanding(state)),
        "case_id": application.case_id if application else None,
        "application_status": application.status_code if application else None,
        "applicant_identity_number": application.applicant_identity_number if application else None,
        "submitted_at": application.submitted_at_ms if application else None,
        "birth_date": certificate.birth_date if certificate else None,
        "newborn_name": certificate.newborn_name if certificate else None,
        "newborn_sex_code": certificate.newborn_sex_code if certificate else None,
        "mother_identity_number": certificate.mother_identity_number if certificate else None,
        "father_identity_number": certificate.father_identity_number if certificate else None,
        "newborn_identity_number": state.newborn_identity_number,
        "household": None if household is None else {
            "identity_number": household.identity_number, "record_key": household.record_key,
            "division_code": household.division_code, "link_rule": household.rule},
        "insurance": None if insurance is None else {
            "insurance_number": insurance.insurance_number,
            "identity_number": insurance.identity_number, "status_code": insurance.status_code},
        "anomalies": [{"event": str(a.event), "status": str(a.status), "reason": a.reason,
                       "source": a.source} for a in state.anomalies],
        "cause": {"topic": at.topic, "partition": at.partition, "offset": at.offset,
                  "source": cause.ref if cause else None},
    }


class CaseStore(ReadStore):
    """Writes the ``newborn_case`` projection; one writer connection per agent (positions, the
    outbox lease: :class:`~projections.read_store.ReadStore`)."""

    def __init__(self, path: StoreLocation) -> None:
        self.path = path
        super().__init__(open_case_database(path))
        #: Outbox floors of the batch being applied (see :meth:`take_over_from`).
        self._floors: dict[tuple[str, int], int] = {}
        #: What the last :meth:`apply` or :meth:`apply_batch` decided (status changes, refusals,
        #: commands), for logs/tests.
        self.messages: list[Message] = []

    # -- applying events ------------------------------------------------------------------

    def apply(self, at: InputPosition, key: Mapping[str, Any], event: Mapping[str, Any] | None
              ) -> list[str] | None:
        """Apply one decoded canonical message of ``at.topic`` (``event`` None: a tombstone).

        Returns the certificate numbers whose case changed, or None when ``at`` was applied before.
        """
        return self.apply_batch([(at, key, event)])[0]

    def apply_batch(self, events: Sequence[tuple[InputPosition, Mapping[str, Any],
                                                 Mapping[str, Any] | None]]
                    ) -> list[list[str] | None]:
        """Apply decoded messages in order in one transaction (each as :meth:`apply` would, its
        own versions and position); per message what :meth:`apply` returns."""
        self.messages = []
        results: list[list[str] | None] = []
        with self._writing() as db:
            self._floors = {(str(r[0]), int(r[1])): int(r[2]) for r in db.execute(
                "SELECT topic, partition, next_offset FROM outbox_floor")}
            for at, key, event in events:
                if at.offset < self.next_offset(at.topic, at.partition):
                    results.append(None)
                    continue
                changed = []
                for case, direct in self._record_fact(at.topic, key, event):
                    if self._reconcile(case, direct, at):
                        changed.append(case)
                db.execute(
                    "INSERT INTO projection_position (topic, partition, next_offset) "
                    "VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                    "DO UPDATE SET next_offset = excluded.next_offset",
                    (at.topic, at.partition, at.offset + 1))
                results.append(changed)
        return results

    def _record_fact(self, topic: str, key: Mapping[str, Any], event: Mapping[str, Any] | None
                     ) -> list[tuple[str, CaseEvent | None]]:
        """Store the fact; the cases it may concern, with the case event it is for them (None:
        only the correlation may have changed)."""
        if topic == "std.birth_certificate":
            return self._certificate(str(key["certificate_number"]), event)
        if topic == "std.service_case":
            return self._application(str(key["case_id"]), event)
        if topic == "std.person":
            return [(case, None) for case in self._person(str(key["identity_number"]), event)]
        if topic == "std.social_insurance":
            return [(case, None) for case in self._insurance(str(key["insurance_number"]), event)]
        raise ValueError(f"newborn_case does not read {topic}")

    def _certificate(self, number: str, event: Mapping[str, Any] | None
                     ) -> list[tuple[str, CaseEvent | None]]:
        case_event = certificate_event(number, event)
        db = self._db
        db.execute("DELETE FROM certificate WHERE certificate_number = ?", (number,))
        certificate = case_event.fact
        if isinstance(certificate, Certificate):
            db.execute("INSERT INTO certificate VALUES (?, ?, ?, ?, ?, ?)", (
                number, certificate.birth_date, certificate.newborn_name, certificate.newborn_sex_code,
                certificate.mother_identity_number, certificate.father_identity_number))
        return [(number, case_event)]

    def _application(self, case_id: str, event: Mapping[str, Any] | None
                     ) -> list[tuple[str, CaseEvent | None]]:
        db = self._db
        row = db.execute("SELECT certificate_number FROM application WHERE case_id = ?",
                         (case_id,)).fetchone()
        before = None if row is None else row["certificate_number"]
        withdrawn = CaseEvent(Kind.APPLICATION_CANCELLED, Source("zwfw", "service_case", case_id))
        case_event = application_event(case_id, event)
        if event is None or case_event is None:  # deleted, or not (or no longer) a newborn case
            db.execute("DELETE FROM application WHERE case_id = ?", (case_id,))
            return [] if before is None else [(str(before), withdrawn)]
        number = referenced_certificate(event.get("subject_reference"))
        db.execute("INSERT INTO application VALUES (?, ?) ON CONFLICT (case_id) DO UPDATE SET "
                   "certificate_number = excluded.certificate_number", (case_id, number))
        cases: list[tuple[str, CaseEvent | None]] = []
        if before is not None and before != number:
            cases.append((str(before), withdrawn))
        if number is not None:  # else kept, uncorrelated: see uncorrelated_applications()
            cases.append((number, case_event))
        return cases

    def _person(self, identity: str, event: Mapping[str, Any] | None) -> list[str]:
        db = self._db
        cases = set(self._cases_of_newborn(identity))
        old = self._persons("identity_number = ?", (identity,))
        db.execute("DELETE FROM person WHERE identity_number = ?", (identity,))
        people = list(old)
        if event is not None:
            person = person_record(event)
            db.execute("INSERT INTO person VALUES (?, ?, ?, ?, ?, ?, ?)", (
                identity, person.name, person.sex_code, person.birth_date, person.division_code,
                person.household_address, _source_json(person.source)))
            people.append(person)
        for person in people:
            # the certificates this person may be the newborn of, and those of their children
            cases.update(str(r[0]) for r in db.execute(
                "SELECT certificate_number FROM certificate WHERE (birth_date = ? AND newborn_name = ? "
                "AND newborn_sex_code = ?) OR mother = ? OR father = ?",
                (person.birth_date, person.name, person.sex_code, identity, identity)))
        return sorted(cases)

    def _insurance(self, number: str, event: Mapping[str, Any] | None) -> list[str]:
        db = self._db
        identities = {str(r[0]) for r in db.execute(
            "SELECT identity_number FROM insurance WHERE insurance_number = ?", (number,))}
        db.execute("DELETE FROM insurance WHERE insurance_number = ?", (number,))
        if event is not None:
            enrolment = insurance_fact(event)
            db.execute("INSERT INTO insurance VALUES (?, ?, ?, ?)", (
                number, enrolment.identity_number, enrolment.status_code,
                _source_json(source_of(event))))
            identities.add(enrolment.identity_number)
        return sorted({case for identity in identities for case in self._cases_of_newborn(identity)})

    # -- correlation ----------------------------------------------------------------------

    def _cases_of_newborn(self, identity: str) -> list[str]:
        return [str(r[0]) for r in self._db.execute(
            "SELECT certificate_number FROM newborn_case WHERE newborn_identity = ?", (identity,))]

    def _persons(self, where: str, args: tuple[Any, ...]) -> list[PersonRecord]:
        return [PersonRecord(r["identity_number"], r["name"], r["sex_code"], r["birth_date"],
                             r["division_code"], r["household_address"], _source(r["source"]))
                for r in self._db.execute(f"SELECT * FROM person WHERE {where}", args)]

    def _household_for(self, state: CaseState) -> tuple[Household | None, Source | None]:
        certificate, application = state.certificate, state.application
        named = application.newborn_identity_number if application else None
        candidates: list[PersonRecord] = []
        parents: list[tuple[str | None, str | None] | None] = []
        if certificate is not None:
            candidates += self._persons(
                "birth_date = ? AND name = ? AND sex_code = ?",
                (certificate.birth_date, certificate.newborn_name, certificate.newborn_sex_code))
            for parent in (certificate.mother_identity_number, certificate.father_identity_number):
                if parent is not None:
                    parents += [p.household for p in self._persons("identity_number = ?", (parent,))]
        if named is not None:
            candidates += self._persons("identity_number = ?", (named,))
        household = newborn_household(certificate, named, candidates,
                                      [p for p in parents if p is not None])
        source = next((p.source for p in candidates
                       if household and p.identity_number == household.identity_number), None)
        return household, source

    def _insurance_for(self, identity: str | None) -> tuple[Insurance | None, Source | None]:
        if identity is None:
            return None, None
        rows = self._db.execute("SELECT * FROM insurance WHERE identity_number = ?",
                                (identity,)).fetchall()
        found = insurance_of(identity, (Insurance(r["insurance_number"], r["identity_number"],
                                                  r["status_code"]) for r in rows))
        source = next((_source(r["source"]) for r in rows
                       if found and r["insurance_number"] == found.insurance_number), None)
        return found, source

    # -- deciding -------------------------------------------------------------------------

    def _reconcile(self, number: str, direct: CaseEvent | None, at: InputPosition) -> bool:
        """Feed the case the direct event and any change of its links; store a new version if
        the case changed."""
        db = self._db
        row = db.execute("SELECT version, state FROM newborn_case WHERE certificate_number = ?",
                         (number,)).fetchone()
        before = CaseState(number) if row is None else CaseState.from_json(json.loads(row["state"]))
        state, cause = before, direct.source if direct else None
        if direct is not None:
            state = self._decide(state, direct)
        household, source = self._household_for(state)
        if household != state.household:
            previous = state.household
            if household is not None and source is not None:
                event = CaseEvent(Kind.HOUSEHOLD_REGISTERED, source, household)
            else:
                assert previous is not None
                event = CaseEvent(Kind.HOUSEHOLD_DEREGISTERED,
                                  Source("gongan", "hj_ryxx", previous.record_key))
            state, cause = self._decide(state, event), cause or event.source
        insurance, source = self._insurance_for(state.newborn_identity_number)
        if insurance != state.insurance:
            previous_insurance = state.insurance
            if insurance is not None and source is not None:
                event = CaseEvent(Kind.INSURANCE_ENROLLED, source, insurance)
            else:
                assert previous_insurance is not None
                event = CaseEvent(Kind.INSURANCE_ENDED,
                                  Source("rsj", "ac01", previous_insurance.insurance_number))
            state, cause = self._decide(state, event), cause or event.source
        if state == before or (row is None and state == CaseState(number)):
            return False
        self._store(state, (int(row["version"]) if row else 0) + 1, at, cause)
        self._issue_commands(state, at)
        return True

    def _decide(self, state: CaseState, event: CaseEvent) -> CaseState:
        state, messages = decide(state, event)
        self.messages += messages
        return state

    def _store(self, state: CaseState, version: int, at: InputPosition, cause: Source | None) -> None:
        document = _dumps(case_document(state, version, at, cause))
        self._db.execute(
            "INSERT INTO newborn_case VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (certificate_number) "
            "DO UPDATE SET version = excluded.version, status = excluded.status, "
            "newborn_identity = excluded.newborn_identity, believed_at_ms = excluded.believed_at_ms, "
            "state = excluded.state, document = excluded.document",
            (state.certificate_number, version, str(state.status), state.newborn_identity_number,
             at.timestamp_ms, _dumps(state.as_json()), document))
        self._db.execute("INSERT INTO case_version VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
            state.certificate_number, version, at.timestamp_ms, str(state.status), document,
            at.topic, at.partition, at.offset))
        if self._publishes(at):
            self._db.execute("INSERT INTO outbox (key, body, cause_topic, cause_partition, "
                             "cause_offset) VALUES (?, ?, ?, ?, ?)",
                             (state.certificate_number, document, at.topic, at.partition, at.offset))

    def _publishes(self, at: InputPosition) -> bool:
        """Whether what ``at`` causes goes to the outboxes: not below the floor another store
        left, which publishes it itself (:meth:`take_over_from`)."""
        return at.offset >= self._floors.get((at.topic, at.partition), 0)

    def _issue_commands(self, state: CaseState, at: InputPosition) -> None:
        """Open a command for each step that became outstanding, close those no longer are;
        each new command goes to the command outbox in this same transaction."""
        db = self._db
        number = state.certificate_number
        wanted = set(outstanding(state))
        opened = {str(r["name"]): str(r["command_id"]) for r in db.execute(
            "SELECT name, command_id FROM command WHERE certificate_number = ? AND open = 1", (number,))}
        for name in opened.keys() - wanted:
            db.execute("UPDATE command SET open = 0 WHERE command_id = ?", (opened[name],))
        if not wanted - opened.keys():
            return
        assert state.application is not None  # outstanding steps need an active application
        case_id = state.application.case_id
        for name in sorted(wanted - opened.keys()):
            issued = db.execute("SELECT count(*) FROM command WHERE case_id = ? AND name = ?",
                                (case_id, name)).fetchone()[0]
            identifier = command_id(case_id, name, int(issued) + 1)
            body = command_body(name, identifier, state, self._parents_household(state),
                                at.timestamp_ms)
            db.execute("INSERT INTO command VALUES (?, ?, ?, ?, 1, ?, ?)",
                       (identifier, number, case_id, name, at.timestamp_ms, _dumps(body)))
            if self._publishes(at):
                db.execute("INSERT INTO command_outbox (command_id, cause_topic, cause_partition, "
                           "cause_offset) VALUES (?, ?, ?, ?)",
                           (identifier, at.topic, at.partition, at.offset))

    def _parents_household(self, state: CaseState) -> tuple[str | None, str | None] | None:
        """The mother's household in the register, else the father's (where the newborn goes)."""
        certificate = state.certificate
        if certificate is None:
            return None
        for parent in (certificate.mother_identity_number, certificate.father_identity_number):
            if parent is not None:
                for person in self._persons("identity_number = ?", (parent,)):
                    if person.household is not None:
                        return person.household
        return None

    def commands(self, number: str) -> list[tuple[IssuedCommand, bool]]:
        """The commands a case issued, oldest first, each with whether it is still open."""
        return [(_issued(r), bool(r["open"])) for r in self._db.execute(
            "SELECT * FROM command WHERE certificate_number = ? ORDER BY issued_at_ms, command_id",
            (number,))]

    # -- outbox ---------------------------------------------------------------------------

    def pending(self, limit: int = 500) -> list[tuple[int, str, str]]:
        """Case versions to publish, oldest first: (id, certificate number, JSON document)."""
        return [(int(r["id"]), str(r["key"]), str(r["body"])) for r in self._db.execute(
            "SELECT id, key, body FROM outbox ORDER BY id LIMIT ?", (limit,))]

    def pending_commands(self, limit: int = 500) -> list[tuple[int, IssuedCommand]]:
        """Commands to publish, oldest first, with their outbox id."""
        return [(int(r["id"]), _issued(r)) for r in self._db.execute(
            "SELECT o.id, c.* FROM command_outbox o JOIN command c USING (command_id) "
            "ORDER BY o.id LIMIT ?", (limit,))]

    def commands_published(self, up_to_id: int) -> None:
        self._db.execute("DELETE FROM command_outbox WHERE id <= ?", (up_to_id,))

    def take_over_from(self, live: CaseStore) -> int:
        """Before this store replaces ``live`` (a rebuild switching readers, a worker adopting
        the rebuilt store): what ``live`` has applied, ``live`` publishes. So drop from both
        outboxes what events before ``live``'s positions caused — and keep it so when those
        events are applied here later (a floor per partition) — and every command ``live``
        issued; and continue each case's versions above ``live``'s, so that no version number
        already published is used again for another document. How many messages were dropped.
        """
        positions = live.position_map()
        issued = [str(r[0]) for r in live._db.execute("SELECT command_id FROM command")]
        versions = [(int(r[1]), str(r[0])) for r in live._db.execute(
            "SELECT certificate_number, version FROM newborn_case")]
        dropped = 0
        with self._writing() as db:
            floors = {(str(r[0]), int(r[1])): int(r[2]) for r in db.execute(
                "SELECT topic, partition, next_offset FROM outbox_floor")}
            for (topic, partition), next_offset in positions.items():
                if next_offset > floors.get((topic, partition), -1):
                    db.execute("INSERT INTO outbox_floor VALUES (?, ?, ?) ON CONFLICT (topic, "
                               "partition) DO UPDATE SET next_offset = excluded.next_offset",
                               (topic, partition, next_offset))
            for table in ("outbox", "command_outbox"):
                dropped += db.execute(
                    f"DELETE FROM {table} WHERE cause_offset < (SELECT next_offset FROM outbox_floor "
                    f"f WHERE f.topic = {table}.cause_topic AND f.partition = {table}.cause_partition)"
                ).rowcount
            for identifier in issued:
                dropped += db.execute("DELETE FROM command_outbox WHERE command_id = ?",
                                      (identifier,)).rowcount
            for version, number in versions:
                row = db.execute("SELECT version, document FROM newborn_case WHERE "
                                 "certificate_number = ?", (number,)).fetchone()
                if row is not None and int(row["version"]) < version:
                    document = json.loads(row["document"])
                    db.execute("UPDATE newborn_case SET version = ?, document = ? "
                               "WHERE certificate_number = ?",
                               (version, _dumps({**document, "version": version}), number))
        return dropped

    # -- reading --------------------------------------------------------------------------

    def case(self, number: str, as_of_ms: int | None = None) -> StoredCase | None:
        return read_case(self._db, number, as_of_ms)

    def versions(self, number: str) -> list[StoredCase]:
        return [StoredCase(number, int(r["version"]), int(r["believed_at_ms"]), json.loads(r["document"]))
                for r in self._db.execute(
                    "SELECT version, believed_at_ms, document FROM case_version "
                    "WHERE certificate_number = ? ORDER BY version", (number,))]

    def uncorrelated_applications(self) -> list[str]:
        """Newborn applications that name no certificate (kept; they never become cases)."""
        return [str(r[0]) for r in self._db.execute(
            "SELECT case_id FROM application WHERE certificate_number IS NULL ORDER BY 1")]

    def covers(self, other: CaseStore) -> bool:
        """Whether this store's outbox floor covers every position ``other`` applied: whoever
        wrote to ``other`` has moved here (:meth:`take_over_from`), so ``other``'s outbox, once
        empty, stays empty."""
        floors = {(str(r[0]), int(r[1])): int(r[2]) for r in self._db.execute(
            "SELECT topic, partition, next_offset FROM outbox_floor")}
        return all(floors.get(key, 0) >= offset for key, offset in other.position_map().items())

    def case_digests(self) -> dict[str, str]:
        """Per case, a digest of what does not depend on the order its inputs arrived in: its
        state (status, certificate, application, household and insurance links, anomalies as a
        set) and the ids of the commands it issued. Not its version count: the four input topics
        are read concurrently, and a department's row that arrives before the application is
        held in a version of its own."""
        commands: dict[str, list[str]] = {}
        for row in self._db.execute("SELECT certificate_number, command_id FROM command ORDER BY 2"):
            commands.setdefault(str(row[0]), []).append(str(row[1]))
        digests = {}
        for row in self._db.execute("SELECT certificate_number, state FROM newborn_case ORDER BY 1"):
            state = json.loads(row[1])
            state["anomalies"] = sorted(state.get("anomalies", []), key=_dumps)
            number = str(row[0])
            body = _dumps({"state": state, "commands": commands.get(number, [])})
            digests[number] = hashlib.sha256(body.encode()).hexdigest()
        return digests

    def checksum(self) -> str:
        """One digest of every case (:meth:`case_digests`) and every fact held (certificates,
        applications, the register's persons, enrolments), to prove a rebuild equals the live
        store: the same events, in whatever order, give the same checksum."""
        digest = hashlib.sha256()
        for number, case in self.case_digests().items():
            digest.update(f"{number}={case};".encode())
        for table, key in (("certificate", "certificate_number"), ("application", "case_id"),
                           ("person", "identity_number"), ("insurance", "insurance_number")):
            for row in self._db.execute(f"SELECT * FROM {table} ORDER BY {key}"):
                digest.update(f"{table}:{_dumps(list(row))};".encode())
        return digest.hexdigest()


def _issued(row: Any) -> IssuedCommand:
    name = str(row["name"])
    return IssuedCommand(str(row["command_id"]), name, COMMAND_TOPICS[name][1], json.loads(row["body"]))


def read_case(db: sqlite3.Connection | Database, number: str, as_of_ms: int | None = None
              ) -> StoredCase | None:
    """The current case of certificate ``number``, or what the store held at ``as_of_ms``."""
    if as_of_ms is None:
        row = db.execute("SELECT version, believed_at_ms, document FROM newborn_case "
                         "WHERE certificate_number = ?", (number,)).fetchone()
    else:
        row = db.execute(
            "SELECT version, believed_at_ms, document FROM case_version WHERE certificate_number = ? "
            "AND believed_at_ms <= ? ORDER BY version DESC LIMIT 1", (number, as_of_ms)).fetchone()
    if row is None:
        return None
    return StoredCase(number, int(row["version"]), int(row["believed_at_ms"]), json.loads(row["document"]))
