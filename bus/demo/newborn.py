"""The newborn flow (新生儿出生“一件事一次办”) played end to end against a running bus.

1. A baby is born: Health's legacy database gets a birth certificate (``wsjk.csyxzm``).
2. The parents apply once, in the citizen app: ``POST /v1/events/rongtong.std.service_case.upserted``.
3. ``newborn_case`` orders the departments; the write-back sinks put a pending household
   registration into Public Security's ``hj_ryxx`` and a pending enrolment into HRSS's ``ac01``.
4. The clerks approve by updating those legacy rows (:mod:`bus.demo.clerk`).
5. Capture brings their changes back; the case completes.
6. All along the app follows its case over Server-Sent Events (``GET /v1/subscribe``).

``bus demo newborn`` and ``make demo`` run it; the e2e test runs the same code.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bus.demo.clerk import SINK_KEY_PREFIX, Approval, approve_enrolments, approve_registrations
from bus.standards.idcard import is_valid_identity_number

__all__ = ["NewbornStory", "StoryResult", "pick_parents"]

CASE_EVENTS = "rongtong.projection.newborn_case.changed"
_GIVEN = "安宁朗悦欣然子涵思远浩宇若溪一诺沐辰语桐"


@dataclass
class StoryResult:
    """What the story saw: the case's statuses in order, the sinks' rows, the clerks' work."""

    certificate_number: str
    case_id: str
    statuses: list[str] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    last_case: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parents:
    mother_id: str
    mother_name: str
    father_id: str | None
    father_name: str | None


def pick_parents(gongan_db: Path, rng: random.Random) -> Parents:
    """A mother of child-bearing age in the register (valid number, a household), and a man of the
    same household as the father when there is one."""
    db = sqlite3.connect(gongan_db)
    try:
        women = [r for r in db.execute(
            "SELECT SFZH, XM, HJDZ FROM hj_ryxx WHERE XB = '2' AND HJDZ IS NOT NULL "
            "AND XZQH IS NOT NULL AND length(SFZH) = 18 AND XM IS NOT NULL AND XM != '' "
            "AND substr(SFZH, 7, 4) BETWEEN '1986' AND '2002' ORDER BY RYBH LIMIT 2000")
            if is_valid_identity_number(r[0])]
        if not women:
            raise RuntimeError(f"no mother in {gongan_db}: seed the register first (bus demo seed)")
        mother_id, mother_name, home = rng.choice(women)
        men = [r for r in db.execute(
            "SELECT SFZH, XM FROM hj_ryxx WHERE XB = '1' AND HJDZ = ? AND length(SFZH) = 18 "
            "AND substr(SFZH, 7, 4) BETWEEN '1980' AND '2002'", (home,))
            if is_valid_identity_number(r[0])]
        father = men[0] if men else (None, None)
        return Parents(mother_id, mother_name, father[0], father[1])
    finally:
        db.close()


class NewbornStory:
    """Plays the flow against a running bus; ``say`` narrates each step."""

    def __init__(self, *, web_url: str, api_key: str, purpose: str, health_db: Path,
                 gongan_db: Path, hrss_connect: Callable[[], Any],
                 say: Callable[[str], None] = print, seed: int | None = None) -> None:
        self.web_url = web_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "X-Purpose": purpose}
        self.health_db = health_db
        self.gongan_db = gongan_db
        self.hrss_connect = hrss_connect
        self.say = say
        self.rng = random.Random(seed)

    async def run(self, timeout: float = 180.0) -> StoryResult:
        return await asyncio.wait_for(self._run(), timeout)

    async def _run(self) -> StoryResult:
        started = time.monotonic()
        now = datetime.now()  # the departments' clock: their update times are local
        parents = pick_parents(self.gongan_db, self.rng)
        number = f"N{now:%y%m%d%H%M%S}{self.rng.randrange(100):02d}"
        # the platform's case number; short, as the departments' key columns are (ac01.AAC001: 20)
        result = StoryResult(number, f"ZW{now:%d%H%M%S}{self.rng.randrange(100):02d}")
        async with aiohttp.ClientSession(headers=self.headers) as http:
            statuses = self._case_statuses(http, number)
            await anext(statuses)  # subscribed before anything happens: nothing is missed
            self._issue_certificate(number, parents, now)
            self.say(f"① 卫健 Health issued birth certificate {number} "
                     f"(mother {parents.mother_name}) in {self.health_db.name}")
            async for status, case in statuses:
                result.statuses.append(status)
                result.last_case = case
                result.seconds[status] = round(time.monotonic() - started, 1)
                self.say(f"   case {number}: {status}  (+{result.seconds[status]} s, over SSE)")
                if status == "born":
                    await self._apply(http, result.case_id, number, parents, now)
                if status in ("applied", "insured", "household_registered"):
                    await self._clerks_act(result)
                if status == "completed":
                    break
        return result

    async def _case_statuses(self, http: aiohttp.ClientSession, number: str
                             ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yields once subscribed, then (status, case) for every new status of the case."""
        params = {"types": CASE_EVENTS, "subject": f"newborn_case/{number}"}
        async with http.get(f"{self.web_url}/v1/subscribe", params=params,
                            timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
            if response.status != 200:
                raise RuntimeError(f"subscribing failed: {response.status} {await response.text()}")
            yield "", {}
            last = None
            async for data in _sse_data(response):
                case = data.get("data") or {}
                status = case.get("status")
                if status and status != last:
                    last = status
                    yield status, case

    def _issue_certificate(self, number: str, parents: Parents, now: datetime) -> None:
        surname = (parents.father_name or parents.mother_name)[:1]
        name = surname + "".join(self.rng.sample(_GIVEN, 2))
        sex = self.rng.choice("12")
        stamp = now.strftime("%Y-%m-%d %H:%M:%S")  # the legacy systems' local update time
        born = now.date().isoformat()
        db = sqlite3.connect(self.health_db)
        try:
            with db:
                db.execute(
                    "INSERT INTO csyxzm (CSZMBH, XSEXM, XSEXB, CSRQ, CSSJ, MQ_SFZH, MQ_XM, FQ_SFZH, "
                    "FQ_XM, CSDD, QFRQ, GXSJ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (number, name, sex, born, now.strftime("%H:%M"),
                     parents.mother_id, parents.mother_name, parents.father_id, parents.father_name,
                     "杭州市妇产科医院", born, stamp))
        finally:
            db.close()

    async def _apply(self, http: aiohttp.ClientSession, case_id: str, number: str,
                     parents: Parents, now: datetime) -> None:
        at = now.isoformat(timespec="seconds")
        body = {"case_id": case_id, "case_type": "newborn", "status_code": "submitted",
                "applicant_identity_number": parents.mother_id, "applicant_name": parents.mother_name,
                "subject_reference": f"wsjk.csyxzm/{number}", "submitted_at": at, "updated_at": at,
                "steps": [{"department": "gongan", "task": "household_registration",
                           "status_code": "submitted"},
                          {"department": "rsj", "task": "insurance_enrolment",
                           "status_code": "submitted"}]}
        async with http.post(f"{self.web_url}/v1/events/rongtong.std.service_case.upserted",
                             json=body, headers={"Idempotency-Key": f"apply-{case_id}"}) as answer:
            if answer.status != 202:
                raise RuntimeError(f"the application was refused: {answer.status} {await answer.text()}")
            accepted = await answer.json()
        self.say(f"② the citizen app applied once: case {case_id} (event {accepted['event_id']})")

    async def _clerks_act(self, result: StoryResult) -> None:
        """Wait for the sinks' rows of this case, then let each clerk approve what is pending."""
        household = f"{SINK_KEY_PREFIX}{result.case_id}-HJ1"
        enrolment = f"{SINK_KEY_PREFIX}{result.case_id}-CB1"
        if not any(a.department == "gongan" for a in result.approvals):
            await _until(lambda: self._gongan_has(household), 60, f"gongan row {household}")
            self.say(f"③ write-back: 公安 hj_ryxx row {household} pending; "
                     "人社 ac01 enrolment on its way")
            done = await asyncio.to_thread(approve_registrations, self.gongan_db)
            result.approvals += done
            for approval in done:
                self.say(f"④ 公安 clerk approved {approval.record_key}: identity number "
                         f"{approval.identity_number[:6]}********{approval.identity_number[-4:]}")
        if not any(a.department == "rsj" for a in result.approvals):
            await _until(lambda: self._hrss_has(enrolment), 60, f"rsj row {enrolment}")
            done = await asyncio.to_thread(self._approve_enrolments)
            result.approvals += done
            for approval in done:
                self.say(f"⑤ 人社 clerk enrolled {approval.record_key} (ac01.AAC008 = 1)")

    def _approve_enrolments(self) -> list[Approval]:
        connection = self.hrss_connect()
        try:
            return approve_enrolments(connection, self.gongan_db)
        finally:
            connection.close()

    def _gongan_has(self, key: str) -> bool:
        db = sqlite3.connect(self.gongan_db)
        try:
            return db.execute("SELECT 1 FROM hj_ryxx WHERE RYBH = ?", (key,)).fetchone() is not None
        finally:
            db.close()

    def _hrss_has(self, key: str) -> bool:
        connection = self.hrss_connect()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1 FROM ac01 WHERE AAC001 = %s", (key,))
            return cursor.fetchone() is not None
        finally:
            connection.close()


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not appear within {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def _sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The ``data`` of each Server-Sent Event of ``response``."""
    lines: list[str] = []
    async for raw in response.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line:
            if line.startswith("data:"):
                lines.append(line[5:].lstrip())
            continue
        if lines:
            yield json.loads("\n".join(lines))
            lines = []
