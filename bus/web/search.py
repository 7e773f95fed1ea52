"""``/v1/citizens/search`` and ``/v1/enterprises/search``: find profiles by their values.

Searching by a person's name, birth date or a legal representative is itself processing of
personal data: it needs a declared purpose the client was granted and the personal
classification, and every profile it returns is audited like any other read. Results are the
same views as the profile endpoints (masked by classification), a page at a time with an
opaque cursor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from aiohttp import web

from bus.access.cursors import InvalidCursor, seal, unseal
from bus.problem import problem
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number
from bus.web.auth import access_of
from bus.web.privacy import audit_read, view_of
from bus.web.profile_reads import json_answer, off_loop
from projections.profiles.readers import Readers
from projections.profiles.search import search

__all__ = ["CITIZEN_SEARCH", "ENTERPRISE_SEARCH", "SEARCH_CURSOR_KEY", "SearchEndpoint"]

SEARCH_CURSOR_KEY = web.AppKey("search_cursor_key", bytes)
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,60}")
_DIVISION = re.compile(r"[0-9]{6}")
_STATUS = re.compile(r"[a-z_]{1,32}")


class _Invalid(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def _name(raw: str) -> str:
    if not _NAME.fullmatch(raw) or not raw.strip():
        raise ValueError("a name of 1–60 characters")
    return raw


def _date(raw: str) -> str:
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ValueError("an ISO date, e.g. 1990-03-07") from None


def _pattern(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if not pattern.fullmatch(raw):
            raise ValueError(what)
        return raw
    return check


def _identity(raw: str) -> str:
    try:
        return parse_identity_number(raw).number
    except StandardViolation as violation:
        raise ValueError(violation.message_en) from None


@dataclass(frozen=True)
class Criterion:
    parameter: str
    field: str
    parse: Callable[[str], str]
    personal: bool


@dataclass(frozen=True)
class SearchEndpoint:
    projection: str
    subject_kind: str
    route: str
    criteria: tuple[Criterion, ...]
    #: Parameters of which at least one must be given (a search is never "everything").
    required: tuple[str, ...]
    readers: Callable[[web.Request], Readers]
    read: Callable[[web.Request, str], dict[str, Any] | None]
    audit_every_read: bool

    def _criteria(self, query: Mapping[str, str]) -> tuple[dict[str, str], bool]:
        chosen: dict[str, str] = {}
        personal = False
        for criterion in self.criteria:
            raw = query.get(criterion.parameter)
            if raw is None or raw == "":
                continue
            try:
                chosen[criterion.field] = criterion.parse(raw)
            except ValueError as exc:
                raise _Invalid(criterion.parameter, f"{criterion.parameter} must be {exc}") from None
            personal = personal or criterion.personal
        if not any(query.get(p) for p in self.required):
            raise _Invalid(self.required[0], f"give at least one of {', '.join(self.required)}")
        return chosen, personal

    async def handle(self, request: web.Request) -> web.Response:
        try:
            criteria, personal = self._criteria(request.query)
        except _Invalid as exc:
            return problem(400, "invalid-parameter", "Invalid query parameter", str(exc),
                           parameter=exc.parameter)
        raw_limit = request.query.get("limit", str(DEFAULT_LIMIT))
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIMIT:
            return problem(400, "invalid-parameter", "Invalid query parameter",
                           f"limit must be an integer between 1 and {MAX_LIMIT}", parameter="limit")
        key = request.app[SEARCH_CURSOR_KEY]
        cursor = request.query.get("after") or None
        try:
            after = "" if cursor is None else unseal(key, cursor)
        except InvalidCursor:
            return problem(400, "invalid-parameter", "Invalid query parameter",
                           "after must be the 'next' cursor of the previous page", parameter="after")
        access = access_of(request)
        if personal and not access.sees("personal"):
            return problem(403, "purpose-required", "Purpose required",
                           "searching by personal data needs the personal classification and a "
                           "granted purpose (X-Purpose)")
        readers = self.readers(request)
        page = await off_loop(readers, partial(search, readers, criteria, after=after,
                                               limit=int(raw_limit)))
        items = []
        for subject in page.subjects:
            profile = await off_loop(readers, self.read, request, subject)
            if profile is None:
                continue  # gone between the index and the read
            view = view_of(request, self.projection, profile, access)
            view.body.pop("provenance", None)
            if self.audit_every_read or view.personal:
                refused = await audit_read(request, access, subject_kind=self.subject_kind,
                                           subject=subject, endpoint=f"GET {self.route}",
                                           view=view, status=200)
                if refused is not None:
                    return refused
            items.append(view.body)
        following = seal(key, page.subjects[-1]) if page.more and page.subjects else None
        return json_answer(request, {"items": items, "next": following})



CITIZEN_SEARCH = (
    Criterion("name", "name", _name, True),
    Criterion("birth_date", "birth_date", _date, True),
    Criterion("division_code", "division_code", _pattern(_DIVISION, "six digits (GB/T 2260)"), False),
)
ENTERPRISE_SEARCH = (
    Criterion("name", "name", _name, False),
    Criterion("legal_rep", "legal_rep_identity_number", _identity, True),
    Criterion("legal_rep_name", "legal_rep_name", _name, True),
    Criterion("status", "status_code", _pattern(_STATUS, "a status code, e.g. active"), False),
)
