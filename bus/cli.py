"""The ``bus`` command line: one entry point for operators, the demo and the tests."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from bus.cli_access import audit, clients
from bus.settings import Settings, load_settings
from bus.stack.errors import StackError
from bus.stack.local import LocalStack, StackReport

if TYPE_CHECKING:
    from bus.governance.quality import QualityReport

console = Console()


class _Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


pass_context = click.make_pass_decorator(_Context, ensure=True)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


@click.group()
@click.version_option(package_name="rongtong")
def main() -> None:
    """Rongtong (融通): the integration bus that keeps legacy systems running."""


# --- stack -------------------------------------------------------------------------------

@main.group()
def stack() -> None:
    """The local stack: Kafka (KRaft) and the schema registry."""


def _print_report(report: StackReport) -> None:
    table = Table(title=f"local stack — state in {report.state_dir}")
    for column in ("component", "process", "answers", "address", "log"):
        table.add_column(column)
    for c in report.components:
        table.add_row(c.name, f"pid {c.pid}" if c.running else "stopped",
                      "yes" if c.answering else "no", c.address, str(c.log_file))
    console.print(table)


@stack.command("up")
@click.option("--legacy-databases", is_flag=True,
              help="Also start local PostgreSQL and MariaDB for the departments' legacy systems.")
@pass_context
def stack_up(ctx: _Context, legacy_databases: bool) -> None:
    """Fetch (once) and start Kafka and the registry; a no-op when both already answer."""
    try:
        with console.status("starting the local stack (first run fetches Kafka with Maven)…"):
            report = LocalStack(ctx.settings, legacy_databases=legacy_databases).up()
    except StackError as exc:
        _fail(str(exc))
        return
    console.print("started: " + (", ".join(report.started) or "nothing, already running"))
    _print_report(report)


@stack.command("down")
@pass_context
def stack_down(ctx: _Context) -> None:
    """Stop the registry and the broker."""
    stopped = LocalStack(ctx.settings).down()
    console.print("stopped: " + (", ".join(stopped) or "nothing was running"))


@stack.command("status")
@pass_context
def stack_status(ctx: _Context) -> None:
    """Report each component; exit 1 when one does not answer."""
    report = LocalStack(ctx.settings).status()
    _print_report(report)
    if not report.healthy:
        sys.exit(1)


# --- registry ----------------------------------------------------------------------------

@main.group()
def registry() -> None:
    """The Confluent-compatible schema registry."""


@registry.command("serve")
@pass_context
def registry_serve(ctx: _Context) -> None:
    """Serve the registry on the host and port of BUS_REGISTRY_URL (foreground)."""
    from bus.registry.server import run_registry

    _logging()
    s = ctx.settings
    run_registry(s.kafka_bootstrap, s.registry_host, s.registry_port)


# --- schemas -----------------------------------------------------------------------------

@main.group()
def schemas() -> None:
    """The data standard's Avro schemas (schemas/avro) against the schema registry."""


@schemas.command("check")
@click.option("--registry", "registry_url", default=None, metavar="URL",
              help="Schema registry to compare with (default: BUS_REGISTRY_URL).")
@pass_context
def schemas_check(ctx: _Context, registry_url: str | None) -> None:
    """Compare each shipped schema with the latest registered version of its subjects under
    their compatibility level. Exit 0 when all are compatible or new, 1 when one would break
    (with a field-by-field diff), 2 when the registry cannot be read."""
    from bus.registry.check import RegistryUnavailable, check_repository, render_report

    url = registry_url or ctx.settings.registry_url
    try:
        results = asyncio.run(check_repository(url))
    except RegistryUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(render_report(results))
    sys.exit(1 if any(r.failed for r in results) else 0)


# --- demo --------------------------------------------------------------------------------

@main.group()
def demo() -> None:
    """The reference government: seed its legacy databases, run the whole bus."""


@demo.command("seed")
@click.option("--persons", default=200, show_default=True, help="People in the register.")
@click.option("--seed", "random_seed", default=20261127, show_default=True)
@pass_context
def demo_seed(ctx: _Context, persons: int, random_seed: int) -> None:
    """Seed the six departments' legacy systems (those that are reachable) from one population."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from bus.demo.reference import seed_reference

    columns = ("{task.description}", BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("seeding 公安户籍", total=persons)
        seeded, skipped = seed_reference(
            ctx.settings, persons=persons, seed=random_seed,
            progress=lambda done, total: progress.update(task, completed=done))
    table = Table(title=f"reference government — {persons} persons")
    for column in ("department", "engine", "tables / file", "rows", "expected accepted",
                   "expected quarantined"):
        table.add_column(column)
    for d in seeded:
        table.add_row(d.department, d.engine, d.where, str(d.rows), str(d.expected_accepted),
                      str(d.expected_quarantined))
    console.print(table)
    console.print(f"ground truth: {ctx.settings.legacy_dir}")
    for reason in skipped:
        console.print(f"[yellow]skipped[/] {reason}")


@demo.command("run")
@click.option("--persons", default=200, show_default=True)
@pass_context
def demo_run(ctx: _Context, persons: int) -> None:
    """Start the stack, seed, run adapters + projections + web; Ctrl-C stops all of it."""
    from bus.demo.run import run_demo

    try:
        sys.exit(run_demo(ctx.settings, persons=persons, console=console))
    except StackError as exc:
        _fail(str(exc))


@demo.command("newborn")
@click.option("--api-key", envvar="BUS_DEMO_APP_KEY", default=None,
              help="The citizen app's key (default: a fresh key for the demo's citizen-app).")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds the whole flow may take.")
@pass_context
def demo_newborn(ctx: _Context, api_key: str | None, timeout: float) -> None:
    """Play the newborn flow (一件事一次办) against the running demo, step by step."""
    from bus.demo.run import play_newborn

    sys.exit(play_newborn(ctx.settings, console=console, api_key=api_key, timeout=timeout))


# --- long-running services ----------------------------------------------------------------

@main.group()
def adapters() -> None:
    """Capture from legacy databases and standardize what they publish."""


@adapters.command("run")
@pass_context
def adapters_run(ctx: _Context) -> None:
    """Run capture + standardize for the reference departments until stopped."""
    from adapters.capture.config import ConfigError
    from adapters.capture.source import SourceMisconfigured
    from bus.bootstrap import run_adapters
    from bus.kafka import TopicMisconfigured

    _logging()
    try:
        asyncio.run(run_adapters(ctx.settings))
    except (ConfigError, SourceMisconfigured, TopicMisconfigured) as exc:
        _fail(str(exc))


@adapters.command("status")
@pass_context
def adapters_status(ctx: _Context) -> None:
    """Each running capture: state, strategy, position, rows/s, errors and retries."""
    captures = _process_status(f"{ctx.settings.adapters_url}/status", "captures", "adapters")
    rows = []
    for c in captures:
        progress = (f" {c['snapshot_done']}/{c['snapshot_total']}"
                    if c.get("snapshot_total") and c["state"] == "snapshotting" else "")
        rows.append((f"{c['department']}.{c['table']}", f"{c['engine']}/{c['strategy']}",
                     c["state"] + progress, str(c["rows"]), f"{c['rows_per_second']:.0f}",
                     str(c["quarantined"]), f"{c['errors']}/{c['retries']}",
                     str(c["position"])[:24]))
    errors = [f"{c['department']}.{c['table']}: {c['last_error']}" for c in captures
              if c.get("last_error") and c["state"] in ("failed", "degraded")]
    _print_status("captures", ("table", "engine/strategy", "state", "rows", "rows/s", "quarantined",
                               "errors/retries", "position"), rows, errors)


def _process_status(url: str, key: str, process: str) -> list[dict[str, Any]]:
    """The list ``key`` of what a running ``bus <process> run`` answers on ``url``; exits with
    a message when it does not answer."""
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            found: list[dict[str, Any]] = json.load(response)[key]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        _fail(f"the {process} process does not answer on {url}; is 'bus {process} run' running?")
        return []
    return found


def _print_status(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]],
                  errors: Sequence[str]) -> None:
    """A status table, then each error in red; exit 1 if there are errors."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for line in errors:
        console.print(f"[red]{line}[/]")
    if errors:
        sys.exit(1)


@main.group()
def sinks() -> None:
    """Write canonical events back into the departments' legacy systems (docs/writeback.md)."""


@sinks.command("run")
@pass_context
def sinks_run(ctx: _Context) -> None:
    """Run every configured write-back sink until stopped (BUS_WRITEBACK_CONFIG)."""
    from adapters.sinks.config import ConfigError
    from adapters.sinks.process import run_sinks
    from bus.kafka import TopicMisconfigured

    _logging()
    try:
        asyncio.run(run_sinks(ctx.settings))
    except (ConfigError, TopicMisconfigured) as exc:
        _fail(str(exc))


@sinks.command("status")
@pass_context
def sinks_status(ctx: _Context) -> None:
    """Each running sink: position and lag, rows written, echoes, conflicts, errors."""
    found = _process_status(f"{ctx.settings.sinks_url}/status", "sinks", "sinks")
    echoes = _capture_echoes(ctx.settings)
    rows = []
    for s in found:
        position = " ".join(f"{p}:{o}" for p, o in s["positions"].items()) or "-"
        rows.append((s["sink"], s["engine"], s["state"], position, str(s["lag"]),
                     str(s["written"]), str(s["replayed"]), echoes.get(s["sink"], "-"),
                     str(s["conflicts"]), str(s["quarantined"]), f"{s['errors']}/{s['retries']}"))
    errors = [f"{s['sink']}: {s['last_error']}" for s in found
              if s.get("last_error") and s["state"] == "degraded"]
    _print_status("write-back sinks", ("sink", "engine", "state", "position", "lag", "written",
                                       "replayed", "echoes", "conflicts", "quarantined",
                                       "errors/retries"), rows, errors)


def _capture_echoes(settings: Settings) -> dict[str, str]:
    """Echoes the captures suppressed per table, when the adapters process answers."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{settings.adapters_url}/status", timeout=2) as response:
            captures = json.load(response)["captures"]
    except (OSError, ValueError, KeyError):
        return {}
    return {f"{c['department']}.{c['table']}": str(c.get("echoes_suppressed", 0)) for c in captures}


@main.group()
def projections() -> None:
    """The faust workers that build the shared projections."""


@projections.command("run")
@pass_context
def projections_run(ctx: _Context) -> None:
    """Run every projection's faust worker until stopped."""
    from bus.bootstrap import run_projections

    run_projections(ctx.settings)


@projections.command("rebuild")
@click.argument("name")
@click.option("--no-switch", is_flag=True, help="Build and compare, but keep readers on the live store.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def projections_rebuild(ctx: _Context, name: str, no_switch: bool, as_json: bool) -> None:
    """Build projection NAME anew from the start of the log, beside the live one; compare, switch."""
    import asyncio
    import json

    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from projections.app import profile_projections
    from projections.newborn_case import rebuild as newborn_rebuild
    from projections.profiles.location import store_location
    from projections.profiles.rebuild import RebuildUnsupported, rebuild

    found = {p.name: p for p in profile_projections()}
    if name not in found and name != newborn_rebuild.NAME:
        _fail(f"no projection {name!r}; known: {', '.join(sorted([*found, newborn_rebuild.NAME]))}")
    s = ctx.settings
    _quiet_kafka_client()
    columns = ("{task.description}", BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=as_json) as progress:
        task = progress.add_task(f"rebuilding {name}", total=None)
        location = store_location(name, s.projection_store_path(name).resolve(), s.read_store_url)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            if name == newborn_rebuild.NAME:
                report = asyncio.run(newborn_rebuild.rebuild(
                    default_path=location, bootstrap=s.kafka_bootstrap,
                    registry_url=s.registry_url, switch=not no_switch, progress=advance))
            else:
                report = asyncio.run(rebuild(
                    found[name], default_path=location, bootstrap=s.kafka_bootstrap,
                    registry_url=s.registry_url, switch=not no_switch, progress=advance))
        except RebuildUnsupported as exc:
            _fail(str(exc))
            return
        except Exception as exc:
            if not _unreachable(exc):
                raise
            _exit_unreachable(s, exc)
            return
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        verdict = {None: "no live store to compare with", True: "equal to the live store",
                   False: "DIFFERENT from the live store"}[report.equal]
        console.print(f"{name}: {report.events} events in {report.seconds:.1f} s into "
                      f"{report.store.name}; at the live store's positions the rebuild is "
                      f"{verdict} (checksum {str(report.rebuilt_checksum)[:12]}); "
                      + ("readers switched" if report.switched else "readers not switched"))
    if report.equal is False:
        sys.exit(1)


# --- data quality and quarantine --------------------------------------------------------

def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means Kafka or the schema registry could not be reached."""
    import aiohttp
    from aiokafka.errors import KafkaError

    from bus.serde.registry_client import RegistryError

    return isinstance(exc, (KafkaError, aiohttp.ClientError, OSError, TimeoutError)) or (
        isinstance(exc, RegistryError) and exc.status >= 500)


def _exit_unreachable(settings: Settings, exc: BaseException) -> None:
    reason = str(exc) or type(exc).__name__
    click.echo(f"error: cannot read the log (Kafka {settings.kafka_bootstrap}, registry "
               f"{settings.registry_url}): {reason}".splitlines()[0], err=True)
    sys.exit(2)


def _quiet_kafka_client() -> None:
    """The commands say in one line when Kafka is away; aiokafka's own log would repeat it."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


@main.group()
def quality() -> None:
    """Data quality measured on the log: accepted and quarantined records per table and rule."""


@quality.command("report")
@click.option("--department", default=None, help="Only this department, e.g. gongan.")
@click.option("--table", default=None, help="Only this legacy table, e.g. hj_ryxx.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (as GET /v1/quality).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write an HTML report to this file.")
@pass_context
def quality_report(ctx: _Context, department: str | None, table: str | None, as_json: bool,
                   html_file: Path | None) -> None:
    """Read std.* and quarantine.* from the beginning and report each legacy table: accepted,
    quarantined and deleted records (each record counted once, in its latest state), the
    accepted ratio and the top reasons. Exit 2 when Kafka or the registry cannot be read."""
    import json

    from bus.governance.quality import QualityAggregate, read_quality, render_html
    from bus.governance.sources import load_mappings
    from bus.serde.avro import AvroSerde
    from bus.serde.registry_client import RegistryClient

    s = ctx.settings
    _quiet_kafka_client()

    async def read() -> QualityAggregate:
        aggregate = QualityAggregate()
        for m in load_mappings():
            aggregate.expect(m.department, m.table, m.entity)
        async with RegistryClient(s.registry_url, timeout=10) as registry:
            return await read_quality(s.kafka_bootstrap, AvroSerde(registry), aggregate)

    try:
        aggregate = asyncio.run(read())
    except Exception as exc:
        if not _unreachable(exc):
            raise
        _exit_unreachable(s, exc)
        return
    report = aggregate.report(department, table)
    if html_file is not None:
        html_file.write_text(render_html(report), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    _print_quality(report)
    if html_file is not None:
        console.print(f"HTML report: {html_file}")


def _print_quality(report: QualityReport) -> None:
    tables = Table(title="data quality — records by latest state")
    for column in ("table", "entity", "accepted", "quarantined", "deleted", "accepted %"):
        text = column in ("table", "entity")
        tables.add_column(column, justify="left" if text else "right", no_wrap=text)
    for t in report.tables:
        ratio = "—" if t.accepted_ratio is None else f"{t.accepted_ratio * 100:.1f}%"
        tables.add_row(f"{t.department}.{t.table}", t.entity or "", str(t.accepted),
                       str(t.quarantined), str(t.deleted), ratio)
    console.print(tables)
    reasons = Table(title="top reasons")
    for column in ("table", "rule", "records", "message", "examples"):
        reasons.add_column(column, overflow="fold")
    for t in report.tables:
        for r in t.rules:
            reasons.add_row(f"{t.department}.{t.table}", r.rule_id, str(r.records),
                            f"{r.message_zh}\n{r.message_en}", ", ".join(r.examples))
    if reasons.row_count:
        console.print(reasons)


@main.group()
def quarantine() -> None:
    """Rows the standardize stage refused: replay them after a fix."""


@quarantine.command("replay")
@click.option("--department", default=None, help="Only this department's tables.")
@click.option("--table", default=None, help="Only this legacy table.")
@click.option("--mapping", "mapping_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A mapping file to use instead of the shipped one of its table (repeatable).")
@click.option("--dry-run", is_flag=True, help="Report what would pass; publish nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
def quarantine_replay(ctx: _Context, department: str | None, table: str | None,
                      mapping_files: tuple[Path, ...], dry_run: bool, as_json: bool) -> None:
    """Run quarantined rows through the current mapping again. Rows that pass are published to
    std.<entity> in a Kafka transaction (once: a second replay publishes nothing); rows that
    still fail are reported by rule. Exit 2 when Kafka or the registry cannot be reached."""
    import json

    from adapters.standardize.mapping import MappingError, load_mapping, load_mapping_file, mapping_names
    from adapters.standardize.replay import replay

    s = ctx.settings
    _quiet_kafka_client()
    try:
        chosen = {f"{m.department}.{m.table}": m for m in map(load_mapping, mapping_names())}
        chosen.update({f"{m.department}.{m.table}": m for m in map(load_mapping_file, mapping_files)})
    except MappingError as exc:
        _fail(str(exc))
        return
    mappings = [m for _, m in sorted(chosen.items())
                if (department is None or m.department == department)
                and (table is None or m.table == table)]
    if not mappings:
        _fail("no mapping matches "
              + " ".join(f"--{k} {v}" for k, v in (("department", department), ("table", table)) if v))
        return
    try:
        results = asyncio.run(replay(s.kafka_bootstrap, s.registry_url, mappings, dry_run=dry_run))
    except Exception as exc:
        if not _unreachable(exc):
            raise
        _exit_unreachable(s, exc)
        return
    if as_json:
        click.echo(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=2))
        return
    title = "quarantine replay" + (" (dry run: nothing published)" if dry_run else "")
    out = Table(title=title)
    for column in ("table", "entity", "tried", "passed", "published", "still failing",
                   "not replayable"):
        out.add_column(column, overflow="fold")
    for r in results:
        failing = "\n".join(f"{rule}: {n}" for rule, n in sorted(r.still_failing.items())) or "0"
        out.add_row(f"{r.department}.{r.table}", r.entity, str(r.candidates), str(r.passed),
                    str(r.published), failing, str(r.not_replayable))
    console.print(out)


main.add_command(clients)
main.add_command(audit)


@main.group()
def webhooks() -> None:
    """Webhooks: canonical events POSTed to the URLs applications registered."""


@webhooks.command("run")
@pass_context
def webhooks_run(ctx: _Context) -> None:
    """Deliver to every active webhook until SIGINT/SIGTERM; /healthz and /metrics on
    BUS_WEBHOOKS_HOST:BUS_WEBHOOKS_PORT. Exit 2 when Kafka or the registry cannot be reached."""
    from bus.webhooks.dispatcher import run_dispatcher

    _logging()
    s = ctx.settings
    console.print(f"webhook dispatcher: store {s.webhooks_path}, metrics on "
                  f"http://{s.webhooks_host}:{s.webhooks_port}/metrics")
    try:
        asyncio.run(run_dispatcher(s))
    except Exception as exc:
        if not _unreachable(exc):
            raise
        _exit_unreachable(s, exc)


@main.command("serve")
@pass_context
def serve(ctx: _Context) -> None:
    """Serve the query API on BUS_WEB_HOST:BUS_WEB_PORT."""
    from bus.bootstrap import run_web

    _logging()
    s = ctx.settings
    console.print(f"query API on {s.web_url}")
    run_web(s)


@main.command("status")
@click.option("--interval", default=1.0, show_default=True,
              help="Seconds between the two samples the rates are measured over.")
@click.option("--limit", default=20, show_default=True,
              help="Rows of the topics and consumer-group tables (busiest, most lag first).")
@pass_context
def status(ctx: _Context, interval: float, limit: int) -> None:
    """The stack, then topics, consumer groups, adapters and projections as on /ops/."""
    from bus.cli_status import collect, print_figures
    from bus.stack.local import LocalStack

    s = ctx.settings
    report = LocalStack(s).status()
    _print_report(report)
    store = s.read_store_path
    console.print(f"citizen_profile store: {store} ({'present' if Path(store).exists() else 'absent'})")
    _quiet_kafka_client()
    with console.status("sampling Kafka, the adapters and the read stores…"):
        collector = asyncio.run(collect(s, interval))
    print_figures(console, collector, limit=limit, projection_groups=[s.projections_app_id])
    if not report.healthy:
        sys.exit(1)
