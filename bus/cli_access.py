"""``bus clients`` and ``bus audit``: who may call the API, and the proof of what they read."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from bus.access.clients import CLASSIFICATIONS, ROLES, ClientError, ClientStore
from bus.settings import load_settings

if TYPE_CHECKING:
    from bus.access.audit import AuditRecord

console = Console()
#: The projections a client can be granted (the query API's route families).
PROJECTIONS = ("citizen_profile", "enterprise_profile", "newborn_case")


def _store() -> ClientStore:
    return ClientStore(load_settings().clients_path)


def _split(values: tuple[str, ...]) -> list[str]:
    return [part for value in values for part in value.split(",") if part.strip()]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group()
def clients() -> None:
    """Client applications, departments and operators allowed to call the API."""


@clients.command("add")
@click.argument("client_id")
@click.option("--name", default="", help="Display name (shown to citizens in their access log).")
@click.option("--role", "roles", multiple=True, default=("reader",), show_default=True,
              help=f"Role(s): {', '.join(ROLES)}.")
@click.option("--projection", "projections", multiple=True,
              help=f"Projection(s) it may read: {', '.join(PROJECTIONS)}.")
@click.option("--classification", "classifications", multiple=True,
              help=f"Field classification(s) it may see: {', '.join(CLASSIFICATIONS)}.")
@click.option("--purpose", "purposes", multiple=True,
              help="Purpose(s) it may declare (X-Purpose); needed for personal fields.")
@click.option("--publish", "publishes", multiple=True,
              help="Canonical entity it may publish events of (POST /v1/events/…), e.g. service_case.")
@click.option("--json", "as_json", is_flag=True, help="Print the client and key as JSON.")
def clients_add(client_id: str, name: str, roles: tuple[str, ...], projections: tuple[str, ...],
                classifications: tuple[str, ...], purposes: tuple[str, ...],
                publishes: tuple[str, ...], as_json: bool) -> None:
    """Register a client and print its API key (shown once; only a digest is kept)."""
    from bus.governance.sources import load_entities

    store = _store()
    try:
        issued = store.add(client_id, name, roles=_split(roles), projections=_split(projections),
                           classifications=_split(classifications), purposes=_split(purposes),
                           known_projections=PROJECTIONS, publishes=_split(publishes),
                           known_entities=[e.entity for e in load_entities()])
    except ClientError as exc:
        _fail(str(exc))
        return
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({**issued.client.as_json(), "api_key": issued.text},
                              ensure_ascii=False))
        return
    console.print(f"client [bold]{issued.client.id}[/] added")
    console.print(f"API key (shown once): [bold]{issued.text}[/]")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def clients_list(as_json: bool) -> None:
    """Every client, its grants and its number of usable keys."""
    store = _store()
    try:
        listed = store.clients()
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([{**c.as_json(), "keys": n} for c, n in listed], ensure_ascii=False))
        return
    table = Table(title="clients")
    for column in ("id", "name", "roles", "projections", "classifications", "purposes",
                   "publishes", "keys", "state"):
        table.add_column(column, overflow="fold")
    for client, keys in listed:
        grants = client.as_json()
        table.add_row(client.id, client.name, *(", ".join(grants[k]) for k in (  # type: ignore[arg-type]
            "roles", "projections", "classifications", "purposes", "publishes")), str(keys),
            "active" if client.active else "revoked")
    console.print(table)


@clients.command("revoke")
@click.argument("client_id")
def clients_revoke(client_id: str) -> None:
    """Revoke a client: its keys and tokens stop working at once."""
    store = _store()
    try:
        store.revoke(client_id)
    except ClientError as exc:
        _fail(str(exc))
    finally:
        store.close()
    console.print(f"client {client_id} revoked")


@clients.command("rotate")
@click.argument("client_id")
@click.option("--grace", default=0.0, show_default=True,
              help="Seconds the current key keeps working, so callers can switch.")
def clients_rotate(client_id: str, grace: float) -> None:
    """Issue a new API key; the current ones end after --grace seconds."""
    store = _store()
    try:
        issued = store.rotate(client_id, grace_seconds=grace)
    except ClientError as exc:
        _fail(str(exc))
        return
    finally:
        store.close()
    console.print(f"new API key of {client_id} (shown once): [bold]{issued.text}[/]")


@clients.command("token")
@click.argument("subject")
@click.option("--ttl", default=3600, show_default=True, help="Seconds the token is valid.")
def clients_token(subject: str, ttl: int) -> None:
    """A JWT for a client id, or for a citizen as ``citizen:<identity number>`` (needs
    BUS_JWT_SECRET, the secret the service verifies tokens with)."""
    from bus.access.tokens import CITIZEN_PREFIX, mint
    from bus.standards.errors import StandardViolation
    from bus.standards.idcard import parse_identity_number

    settings = load_settings()
    if not settings.jwt_secret:
        _fail("set BUS_JWT_SECRET (the service must use the same secret)")
        return
    if subject.startswith(CITIZEN_PREFIX):
        try:
            number = parse_identity_number(subject.removeprefix(CITIZEN_PREFIX)).number
        except StandardViolation as exc:
            _fail(exc.message_en)
            return
        subject = CITIZEN_PREFIX + number
    else:
        store = _store()
        try:
            client = store.get(subject)
        finally:
            store.close()
        if client is None or not client.active:
            _fail(f"no active client {subject!r}")
            return
    click.echo(mint(settings.jwt_secret, subject, ttl_seconds=ttl))


@click.group()
def audit() -> None:
    """The audit log of personal-data reads (bus.audit)."""


@audit.command("verify")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Verify an export (JSON lines, as `bus audit export` writes) instead of the topic.")
@click.option("--topic", default="bus.audit", show_default=True, help="The audit topic.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def audit_verify(path: Path | None, topic: str, as_json: bool) -> None:
    """Recompute every hash and link. Exit 1 when a record was changed, removed or reordered
    (each finding says which and where), 2 when Kafka or the registry cannot be reached."""
    from bus.access.audit import verify

    try:
        records = _from_file(path) if path else _from_topic(topic)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        click.echo(f"error: cannot read the audit log: {exc}", err=True)
        sys.exit(2)
    findings, heads = verify(records)
    if as_json:
        click.echo(json.dumps({"records": len(records), "ok": not findings,
                               "findings": [str(f) for f in findings], "heads": heads}))
    else:
        for finding in findings:
            console.print(f"[red]✗[/] {finding}")
        console.print(f"{len(records)} records in {len(heads)} chain(s): "
                      + ("[green]intact[/]" if not findings else f"[red]{len(findings)} problem(s)[/]"))
        for chain, head in sorted(heads.items()):
            console.print(f"  chain {chain} head {head}")
    if findings:
        sys.exit(1)


@audit.command("export")
@click.option("--topic", default="bus.audit", show_default=True, help="The audit topic.")
def audit_export(topic: str) -> None:
    """Print every record as a JSON line, in log order."""
    for offset, record in _from_topic(topic):
        click.echo(json.dumps({"offset": offset, **record.as_avro()}, ensure_ascii=False))


def _from_file(path: Path) -> list[tuple[int, AuditRecord]]:
    from bus.access.audit import AuditRecord

    records: list[tuple[int, AuditRecord]] = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            values = json.loads(line)
            values.pop("offset", None)
            records.append((line_number, AuditRecord.from_avro(values)))
    return records


def _from_topic(topic: str) -> list[tuple[int, AuditRecord]]:
    from bus.access.audit import read_audit
    from bus.serde.avro import AvroSerde
    from bus.serde.registry_client import RegistryClient

    settings = load_settings()

    async def read() -> list[tuple[int, AuditRecord]]:
        registry = RegistryClient(settings.registry_url)
        try:
            return list(await read_audit(settings.kafka_bootstrap, AvroSerde(registry), topic))
        finally:
            await registry.close()

    try:
        return asyncio.run(read())
    except Exception as exc:
        click.echo(f"error: cannot read {topic} from {settings.kafka_bootstrap} "
                   f"(registry {settings.registry_url}): {exc}", err=True)
        sys.exit(2)
