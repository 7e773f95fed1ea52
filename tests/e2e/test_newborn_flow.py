"""The newborn flow (一件事一次办) end to end, with every piece real and running as in the demo.

Health's SQLite gets a birth certificate → the citizen app applies once through the API → the
``newborn_case`` process manager orders both departments → ``bus sinks run`` writes a pending
registration into Public Security's SQLite register and a pending enrolment into HRSS's MariaDB
→ the clerks approve by updating those rows → capture (incremental polling for the register,
the binlog for HRSS) brings the changes back → the case completes → the app saw every step over
Server-Sent Events. The sinks' own writes never come back as changes (echo suppression): the
raw topics hold the clerks' updates only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import yaml

from bus.demo.clients import APP_ID, APP_PURPOSE
from bus.demo.departments.government import SeedTargets, seed_government
from bus.demo.newborn import NewbornStory
from bus.demo.seed import DEFAULT_SEED, seed_gongan
from tests.access import add_client
from tests.conftest import free_port
from tests.e2e.crashes import logs_on_failure
from tests.e2e.harness import BusProcess, read_topic, wait_for
from tests.servers.mariadb import MariaDbServer, running_mariadb

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

CONFIG_DIR = Path(__file__).resolve().parents[2] / "adapters" / "config"
PERSONS = 120


@pytest.fixture
def mariadb() -> Iterator[MariaDbServer]:
    """HRSS's database ``rsj`` with the reference configuration's account."""
    with running_mariadb(database="rsj") as server:
        server.create_user("rongtong", "rongtong", "ALL PRIVILEGES")
        yield server


def capture_config(path: Path) -> Path:
    """The reference capture configuration of the three departments the flow touches."""
    reference = yaml.safe_load((CONFIG_DIR / "reference.yaml").read_text("utf-8"))
    reference["sources"] = [s for s in reference["sources"] if s["department"] in ("gongan", "rsj", "wsjk")]
    path.write_text(yaml.safe_dump(reference, allow_unicode=True), "utf-8")
    return path


def writeback_config(path: Path) -> Path:
    """The reference write-back configuration without the Civil Affairs export."""
    reference = yaml.safe_load((CONFIG_DIR / "writeback.yaml").read_text("utf-8"))
    reference["sinks"] = [s for s in reference["sinks"] if s["department"] in ("gongan", "rsj")]
    path.write_text(yaml.safe_dump(reference, allow_unicode=True), "utf-8")
    return path


def test_a_birth_an_application_and_two_clerks_complete_the_case_seen_over_sse(
        bus_env: dict[str, str], mariadb: MariaDbServer, tmp_path: Path) -> None:
    state = Path(bus_env["BUS_STATE_DIR"])
    legacy = state / "legacy"
    seed_gongan(legacy / "gongan.sqlite", persons=PERSONS, seed=DEFAULT_SEED)
    hrss = {**mariadb.connection_settings(), "user": "rongtong", "password": "rongtong",
            "database": "rsj"}
    seed_government(SeedTargets(truth_dir=legacy / "truth", hrss_mariadb=hrss,
                                health_sqlite=legacy / "wsjk.sqlite"), persons=PERSONS, seed=DEFAULT_SEED)
    web_port = int(bus_env["BUS_WEB_PORT"])
    env = dict(bus_env, BUS_ADAPTERS_CONFIG=str(capture_config(tmp_path / "capture.yaml")),
               BUS_WRITEBACK_CONFIG=str(writeback_config(tmp_path / "writeback.yaml")),
               BUS_LEGACY_MARIADB_PORT=str(mariadb.port), BUS_SINKS_PORT=str(free_port()))
    key = add_client(state, APP_ID, roles=("reader",), purposes=(APP_PURPOSE,),
                     publishes=("service_case",))
    processes = [BusProcess(name, args, env, tmp_path / "logs") for name, args in (
        ("adapters", ["adapters", "run"]), ("projections", ["projections", "run"]),
        ("sinks", ["sinks", "run"]), ("web", ["serve"]))]
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    with logs_on_failure(*processes):
        for process in processes:
            process.start()
        try:
            web = f"http://127.0.0.1:{web_port}"
            wait_for(lambda: _answers(web), 60, "the web service")
            story = NewbornStory(web_url=web, api_key=key, purpose=APP_PURPOSE,
                                 health_db=legacy / "wsjk.sqlite", gongan_db=legacy / "gongan.sqlite",
                                 hrss_connect=lambda: pymysql.connect(**hrss), say=say,
                                 seed=7)
            result = asyncio.run(story.run(240))
        finally:
            for process in reversed(processes):
                process.stop()

    # the app saw the case from birth to completion, in an order the table allows
    assert result.statuses[:2] == ["born", "applied"], result.statuses
    assert result.statuses[-1] == "completed"
    assert set(result.statuses[2:-1]) <= {"household_registered", "insured"}
    case = result.last_case
    assert case["case_id"] == result.case_id and case["awaiting"] == []
    assert case["household"]["link_rule"] == "birth_and_parent_household"

    # the legacy rows: written once by the sinks, approved by the clerks
    household_key, enrolment_key = f"WB{result.case_id}-HJ1", f"WB{result.case_id}-CB1"
    [newborn] = [a.identity_number for a in result.approvals if a.department == "gongan"]
    assert case["newborn_identity_number"] == newborn
    assert mariadb.query("SELECT AAC002, AAC008 FROM ac01 WHERE AAC001 = %s", (enrolment_key,)) \
        == [(newborn, "1")]

    # no echo: each sink-written row reached Kafka once, as the clerk's update
    bootstrap, registry = env["BUS_KAFKA_BOOTSTRAP"], env["BUS_REGISTRY_URL"]
    for topic, column, row_key in (("legacy.gongan.hj_ryxx", "RYBH", household_key),
                                   ("legacy.rsj.ac01", "AAC001", enrolment_key)):
        raw = read_topic(bootstrap, registry, topic)
        mine = [r for r in raw.records if r and (r.get("after") or {}).get(column) == row_key]
        assert len(mine) == 1, (topic, mine)
    persons = read_topic(bootstrap, registry, "std.person")
    assert sum(1 for r in persons.records if r and r["identity_number"] == newborn) == 1


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
