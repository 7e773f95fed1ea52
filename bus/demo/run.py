"""``bus demo run``: the whole reference government on a laptop, started by one command."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request

from rich.console import Console

from bus.demo.clients import APP_ID, DemoClient, citizen_app_key, demo_clients, demo_jwt_secret
from bus.demo.reference import seed_reference
from bus.demo.supervisor import Service, Supervisor, bus_command
from bus.settings import Settings
from bus.stack.local import LocalStack


def _web_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run_demo(settings: Settings, *, persons: int, console: Console) -> int:
    stack = LocalStack(settings, legacy_databases=True)
    with console.status("starting Kafka and the schema registry (first run fetches Kafka)…"):
        report = stack.up()
    console.print(f"[green]stack up[/] (state in {report.state_dir})")
    with console.status(f"seeding six departments from {persons} persons…"):
        seeded, skipped = seed_reference(settings, persons=persons)
    for department in seeded:
        console.print(f"[green]seeded[/] {department.department} ({department.engine}): "
                      f"{department.rows} rows")
    for reason in skipped:
        console.print(f"[yellow]skipped[/] {reason}")

    clients = demo_clients(settings)
    env = dict(os.environ)
    env.update(
        {
            "BUS_JWT_SECRET": demo_jwt_secret(settings),
            "BUS_STATE_DIR": str(settings.state_dir.resolve()),
            "BUS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "BUS_REGISTRY_URL": settings.registry_url,
            "BUS_WEB_HOST": settings.web_host,
            "BUS_WEB_PORT": str(settings.web_port),
        }
    )
    supervisor = Supervisor(
        [
            Service("adapters", bus_command("adapters", "run")),
            Service("projections", bus_command("projections", "run")),
            Service("sinks", bus_command("sinks", "run")),
            Service("web", bus_command("serve")),
        ],
        settings.state_dir.resolve() / "logs",
        env,
    )
    supervisor.start()
    try:
        deadline = time.monotonic() + 60
        while not _web_answers(settings.web_url) and time.monotonic() < deadline:
            time.sleep(0.5)
        _print_welcome(console, settings, supervisor, clients)
        app = next(c for c in clients if c.id == APP_ID)
        play_newborn(settings, console=console, api_key=app.key, timeout=240)
        console.print("  Play it again: .venv/bin/bus demo newborn    Ctrl-C stops everything.")
        exited = supervisor.wait()
        if exited is not None:
            console.print(f"[red]{exited} stopped unexpectedly; see {supervisor.log_file(exited)}[/]")
            return 1
        return 0
    finally:
        console.print("stopping adapters, projections, sinks and web…")
        supervisor.stop()
        if report.started:  # what was running before the demo keeps running
            console.print(f"stopping what the demo started of the local stack "
                          f"({', '.join(report.started)})…")
            stack.down(only=report.started)


def _print_welcome(console: Console, settings: Settings, supervisor: Supervisor,
                   clients: list[DemoClient]) -> None:
    web = settings.web_url
    db = settings.gongan_db_path.resolve()
    analyst = next(c for c in clients if c.id == "analyst")
    console.print()
    console.rule("Rongtong 融通 demo is running")
    console.print(f"  citizens (unified query)  {web}/v1/citizens?limit=5")
    console.print(f"  one citizen               {web}/v1/citizens/<identity number>")
    console.print("  API clients (keys shown once; `bus clients list` shows the grants):")
    for client in clients:
        console.print(f"    {client.id:<11} purpose {client.purpose:<15} key {client.key}",
                      soft_wrap=True)
    auth = f"-H 'Authorization: Bearer {analyst.key}'"
    # soft_wrap: commands are printed whole, so they can be copied
    console.print(f"    curl -s {auth} -H 'X-Purpose: {analyst.purpose}' "
                  f"'{web}/v1/citizens?limit=1' | python3 -m json.tool", soft_wrap=True)
    console.print(f"    curl -s {auth} '{web}/v1/citizens?limit=1'   # no purpose: masked",
                  soft_wrap=True)
    console.print("    .venv/bin/bus audit verify                     # who read what, tamper-evident",
                  soft_wrap=True)
    console.print(f"  ops dashboard             {web}/ops/  (sign in with the operator's key)")
    console.print(f"  OpenAPI / AsyncAPI        {web}/openapi.json  {web}/asyncapi.json")
    console.print(f"  health                    {web}/healthz")
    console.print(f"  schema registry           {settings.registry_url}/subjects")
    console.print(f"  Kafka                     {settings.kafka_bootstrap}")
    console.print(f"  captures (Prometheus)     {settings.adapters_url}/metrics "
                  "— or: .venv/bin/bus adapters status")
    console.print()
    console.print("  Change a row in the legacy database by hand, then ask the API again:")
    console.print(
        f"    sqlite3 {db} \"UPDATE hj_ryxx SET XM='王小明', "
        "GXSJ=strftime('%Y-%m-%d %H:%M:%S','now','localtime') WHERE RYBH='R0000001'\"",
        soft_wrap=True)
    console.print(f"    curl -s {auth} -H 'X-Purpose: {analyst.purpose}' "
                  f"'{web}/v1/citizens?limit=1' | python3 -m json.tool", soft_wrap=True)
    console.print()
    console.print(f"  Logs of adapters, projections and web: {supervisor.log_dir}/")
    console.print("  Ctrl-C stops everything the demo started.")
    console.rule()


def play_newborn(settings: Settings, *, console: Console, api_key: str | None = None,
                 timeout: float = 180.0) -> int:
    """Play the newborn flow against the running demo, narrated; 0 when the case completed."""
    import asyncio

    import pymysql

    from bus.demo.clients import APP_PURPOSE
    from bus.demo.newborn import NewbornStory

    if api_key is None:
        try:
            api_key = citizen_app_key(settings)
        except LookupError as exc:
            console.print(f"[red]{exc}[/]")
            return 1
    hrss = LocalStack(settings, legacy_databases=True).mariadb.connection("rsj")
    story = NewbornStory(
        web_url=settings.web_url, api_key=api_key, purpose=APP_PURPOSE,
        health_db=settings.legacy_dir / "wsjk.sqlite", gongan_db=settings.gongan_db_path,
        hrss_connect=lambda: pymysql.connect(**hrss),
        say=lambda line: console.print(line, soft_wrap=True))
    console.rule("新生儿出生“一件事一次办” — the newborn flow, end to end")
    console.print(f"  watch it yourself: curl -N -H 'Authorization: Bearer {api_key}' "
                  f"-H 'X-Purpose: {APP_PURPOSE}' "
                  f"'{settings.web_url}/v1/subscribe?types=rongtong.projection.newborn_case.changed'",
                  soft_wrap=True)
    try:
        result = asyncio.run(story.run(timeout))
    except (TimeoutError, RuntimeError, OSError, pymysql.err.MySQLError) as exc:
        console.print(f"[yellow]the newborn flow did not complete: {exc or type(exc).__name__}[/] "
                      f"(logs in {settings.state_dir.resolve() / 'logs'})")
        return 1
    console.print(f"[green]case {result.certificate_number} completed[/]: "
                  f"{' → '.join(result.statuses)} in {result.seconds.get('completed', 0)} s")
    console.rule()
    return 0
