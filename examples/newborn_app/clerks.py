"""The departments' clerks, for trying the example against the demo: approve the pending rows.

The write-back sinks put the newborn's household registration into Public Security's ``hj_ryxx``
and the insurance enrolment into HRSS's ``ac01``, pending; a clerk approves each at their counter.
``bus demo newborn`` plays the clerks for its own case; for a case the example app opened, run

    .venv/bin/python examples/newborn_app/clerks.py --watch 120

in a second terminal (from the repository, beside a running ``make demo``). It changes only the
legacy databases, as the clerks would, with :mod:`bus.demo.clerk`; capture brings the changes back.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import pymysql

from bus.demo.clerk import approve_enrolments, approve_registrations
from bus.settings import load_settings
from bus.stack.local import LocalStack


def approve_once() -> list[str]:
    """Approve what is pending now; what was done, one line each."""
    settings = load_settings()
    done = approve_registrations(settings.gongan_db_path)
    hrss = pymysql.connect(**LocalStack(settings, legacy_databases=True).mariadb.connection("rsj"))
    try:
        done += approve_enrolments(hrss, settings.gongan_db_path)
    finally:
        hrss.close()
    return [f"{a.department}.{a.table} {a.record_key}: approved ({a.identity_number[:6]}********"
            f"{a.identity_number[-4:]})" for a in done]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Approve the rows the write-back sinks wrote.")
    parser.add_argument("--watch", type=float, default=0.0,
                        help="keep approving for this many seconds (default: once)")
    options = parser.parse_args(argv)
    deadline = time.monotonic() + options.watch
    while True:
        for line in approve_once():
            print(line, flush=True)
        if time.monotonic() >= deadline:
            return 0
        time.sleep(1.0)


if __name__ == "__main__":
    raise SystemExit(main())
