"""A minimal citizen app on the bus: apply once for a newborn, follow the case until it is done.

    python examples/newborn_app/app.py --certificate N26112712000001 \\
        --applicant 330106199003071236 --applicant-name 王芳

It publishes a ``service_case`` (case type ``newborn``, ``subject_reference``
``wsjk.csyxzm/<certificate>``) through ``POST /v1/events`` and follows the case file the bus
keeps for that birth (``projection.newborn_case``) over Server-Sent Events, printing each status
until ``completed`` (exit 0) or ``rejected``/``cancelled`` (exit 1). The connection may drop or
the bus restart meanwhile: the SDK reconnects and resumes where it was.

The base URL, the API key and the purpose come from ``--url``/``--key``/``--purpose`` or
``BUS_URL``/``BUS_API_KEY``/``BUS_PURPOSE``. Only ``bus.client`` (aiohttp + pydantic) is used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import uuid
from collections.abc import Callable, Sequence

from bus.client import BusClient, BusError, NewbornCase, ServiceCase, ValidationFailed
from bus.client.models import CaseStep

#: What the app shows for each status of the case (docs/newborn-case.md).
SHOWN = {"void": "—", "awaiting_certificate": "等待出生医学证明 waiting for the birth certificate",
         "born": "已出生 certificate issued", "applied": "办理中 in progress",
         "household_registered": "户籍已登记 household registered", "insured": "已参保 insured",
         "completed": "已办结 completed", "rejected": "不予受理 rejected", "cancelled": "已撤回 withdrawn"}
FINAL = {"completed": 0, "rejected": 1, "cancelled": 1}


def application(case_id: str, certificate: str, applicant: str, applicant_name: str | None,
                now: dt.datetime) -> ServiceCase:
    """The newborn application: one case, two departments' steps."""
    steps = [CaseStep(department="gongan", task="household_registration", status_code="submitted"),
             CaseStep(department="rsj", task="insurance_enrolment", status_code="submitted")]
    return ServiceCase(case_id=case_id, case_type="newborn", status_code="submitted",
                       applicant_identity_number=applicant, applicant_name=applicant_name,
                       subject_reference=f"wsjk.csyxzm/{certificate}", steps=steps,
                       submitted_at=now, updated_at=now)


async def apply_and_follow(bus: BusClient, certificate: str, applicant: str,
                           applicant_name: str | None = None, case_id: str | None = None,
                           say: Callable[[str], None] = print) -> str:
    """Apply for the newborn of ``certificate`` and print the case's statuses; the last one."""
    now = dt.datetime.now(dt.UTC)
    case_id = case_id or f"APP{now:%Y%m%d%H%M%S}{uuid.uuid4().hex[:4].upper()}"
    # The case file is compacted by certificate: from its beginning the app sees where the case
    # stands now, then every change. The subscription connects on the first event asked for.
    cases = bus.subscribe(NewbornCase, subject=f"newborn_case/{certificate}", from_beginning=True)
    async with cases:
        published = await bus.publish(application(case_id, certificate, applicant, applicant_name, now),
                                      idempotency_key=f"apply-{case_id}")
        say(f"applied: case {case_id} for certificate {certificate} (event {published.event_id}, "
            f"{published.position})")
        shown = None
        async for delivery in cases:
            case = delivery.as_(NewbornCase)
            if case.status != shown:
                shown = case.status
                mine = "" if case.case_id in (None, case_id) else f" (application {case.case_id})"
                say(f"{case.believed_at:%H:%M:%S} case {certificate}: {case.status} — "
                    f"{SHOWN.get(case.status, case.status)}{mine}")
            if case.case_id == case_id and case.status in FINAL:
                return case.status
    raise RuntimeError("the subscription ended")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Apply once for a newborn and follow the case.")
    parser.add_argument("--url", default=os.environ.get("BUS_URL", "http://127.0.0.1:8080"),
                        help="the bus's web URL (BUS_URL; default %(default)s)")
    parser.add_argument("--key", default=os.environ.get("BUS_API_KEY"),
                        help="the app's API key, rtk_… (BUS_API_KEY)")
    parser.add_argument("--purpose", default=os.environ.get("BUS_PURPOSE", "newborn-service"),
                        help="the declared purpose, X-Purpose (BUS_PURPOSE; default %(default)s)")
    parser.add_argument("--certificate", required=True, help="birth certificate number (CSZMBH)")
    parser.add_argument("--applicant", required=True, help="identity number of the applying parent")
    parser.add_argument("--applicant-name", help="name of the applying parent")
    parser.add_argument("--case-id", help="case number (default: a new one)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    options = parser.parse_args(argv)
    if not options.key:
        parser.error("an API key is needed: --key or BUS_API_KEY")
    return options


async def _main(options: argparse.Namespace) -> int:
    async with BusClient(options.url, options.key, purpose=options.purpose) as bus:
        status = await asyncio.wait_for(
            apply_and_follow(bus, options.certificate, options.applicant, options.applicant_name,
                             options.case_id), options.timeout)
    return FINAL[status]


def main(argv: Sequence[str] | None = None) -> int:
    options = _arguments(argv)
    try:
        return asyncio.run(_main(options))
    except ValidationFailed as exc:
        for error in exc.errors:
            print(f"error: {error.field}: {error.message}", file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
    except BusError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except TimeoutError:
        print(f"error: the case did not finish within {options.timeout:.0f} s", file=sys.stderr)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
