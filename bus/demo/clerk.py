"""The departments' clerks of the demo: they approve what the write-back sinks put in their tables.

The sinks write a newborn's household registration into Public Security's ``hj_ryxx`` without an
identity number and an insurance enrolment into HRSS's ``ac01`` with status ``0`` (pending): the
legacy systems' own way of holding a request until a clerk acts (docs/writeback.md). Here the
clerks act the way they would at their counters, by updating those legacy rows directly:

- Public Security assigns the identity number (GB 11643-1999: the household's division, the birth
  date, the next free sequence — odd for boys, even for girls — and the check character);
- HRSS looks the newborn's number up in the household register (name and birth date) and sets
  the enrolment to ``1`` (paying).

Capture then brings both changes back like any clerk's work; nothing here talks to the bus.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bus.standards.idcard import compute_check_char

__all__ = ["Approval", "approve_enrolments", "approve_registrations", "assign_identity_number"]

#: Keys of the rows the write-back sinks write (their mappings' ``template``).
SINK_KEY_PREFIX = "WB"


@dataclass(frozen=True)
class Approval:
    """What a clerk did to one legacy row."""

    department: str
    table: str
    record_key: str
    identity_number: str


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")  # the counter's clock, as the sinks stamp


def assign_identity_number(division: str, birth_date: str, sex_code: str, taken: set[str]) -> str:
    """The lowest free identity number for a person of ``division`` born on ``birth_date``
    (YYYYMMDD) of ``sex_code`` (1 male: odd sequence, 2 female: even)."""
    first = 1 if sex_code == "1" else 2
    for sequence in range(first, 1000, 2):
        body = f"{division}{birth_date}{sequence:03d}"
        number = body + compute_check_char(body)
        if number not in taken:
            return number
    raise RuntimeError(f"no identity number left for {division} {birth_date}")


def approve_registrations(gongan_db: Path) -> list[Approval]:
    """Public Security: number every pending registration the sink wrote (SQLite register)."""
    db = sqlite3.connect(gongan_db)
    try:
        with db:
            pending = db.execute(
                "SELECT RYBH, XB, CSRQ, XZQH FROM hj_ryxx WHERE (SFZH IS NULL OR SFZH = '') "
                "AND RYBH LIKE ? AND XZQH IS NOT NULL ORDER BY RYBH",
                (f"{SINK_KEY_PREFIX}%",)).fetchall()
            approvals = []
            for key, sex, born, division in pending:
                birth = str(born).replace("-", "")
                taken = {str(r[0]) for r in db.execute(
                    "SELECT SFZH FROM hj_ryxx WHERE SFZH LIKE ?", (f"{division}{birth}%",))}
                number = assign_identity_number(str(division), birth, str(sex), taken)
                db.execute("UPDATE hj_ryxx SET SFZH = ?, GXSJ = ? WHERE RYBH = ?",
                           (number, _now(), key))
                approvals.append(Approval("gongan", "hj_ryxx", str(key), number))
            return approvals
    finally:
        db.close()


def approve_enrolments(hrss: Any, gongan_db: Path) -> list[Approval]:
    """HRSS: enrol every pending newborn whose identity number the register already assigned.
    ``hrss`` is an open DB-API connection to the ``rsj`` database (pymysql)."""
    register = sqlite3.connect(gongan_db)
    approvals = []
    try:
        cursor = hrss.cursor()
        try:
            cursor.execute("SELECT AAC001, AAC003, AAC006, AAC002 FROM ac01 WHERE AAC008 = '0' "
                           "AND AAC001 LIKE %s ORDER BY AAC001", (f"{SINK_KEY_PREFIX}%",))
            for key, name, born, known in cursor.fetchall():
                birth = born.strftime("%Y%m%d") if hasattr(born, "strftime") else str(born)
                found = [str(r[0]) for r in register.execute(
                    "SELECT SFZH FROM hj_ryxx WHERE XM = ? AND REPLACE(CSRQ, '-', '') = ? "
                    "AND SFZH IS NOT NULL AND SFZH != ''", (name, birth.replace("-", "")))]
                number = known or (found[0] if len(found) == 1 else None)
                if number is None:
                    continue  # the register has not numbered the newborn yet: wait
                cursor.execute("UPDATE ac01 SET AAC002 = %s, AAC008 = '1', AAE036 = %s "
                               "WHERE AAC001 = %s", (number, _now(), key))
                approvals.append(Approval("rsj", "ac01", str(key), number))
            hrss.commit()
        finally:
            cursor.close()
    finally:
        register.close()
    return approvals
