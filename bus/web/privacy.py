"""What each profile endpoint shows a client, and the audit record of every personal read."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from bus.access.audit import AuditEntry, AuditSink
from bus.access.policy import Access, FieldPolicy, View
from bus.governance.catalog import Catalog
from bus.problem import problem
from bus.web.auth import request_id_of

__all__ = ["AUDIT", "POLICIES", "audit_read", "policies_from"]

log = logging.getLogger(__name__)
AUDIT = web.AppKey("audit", AuditSink)
POLICIES = web.AppKey("policies", dict[str, FieldPolicy])

_CITIZEN = "GET /v1/citizens/{identity_number}"
_ENTERPRISE = "GET /v1/enterprises/{credit_code}"
_CITIZEN_MASKS = {"identity_number": "identity_number", "name": "name",
                  "births[].newborn_name": "name"}
_ENTERPRISE_MASKS = {"legal_rep_identity_number": "identity_number", "legal_rep_name": "name",
                     "insured_employees[].identity_number": "identity_number",
                     "insured_employees[].name": "name"}
#: An enterprise's credit code is published (national enterprise credit system); the catalog
#: classifies it as its most sensitive source, an employer code on insurance records.
_ENTERPRISE_OVERRIDES = {"credit_code": "public", "linked_records": "sensitive_personal"}


def policies_from(catalog: Catalog) -> dict[str, FieldPolicy]:
    """The field policy of each profile projection, from the catalog's API datasets."""
    datasets = {d.id: d for d in catalog.datasets}

    def fields(endpoint: str) -> list[tuple[str, str | None]]:
        return [(f.name, f.classification) for f in datasets[endpoint].fields]

    return {
        "citizen_profile": FieldPolicy.from_catalog(
            "citizen_profile", "identity_number", fields(_CITIZEN), masks=_CITIZEN_MASKS,
            overrides={"version": "internal", "projected_at": "internal"}),
        "enterprise_profile": FieldPolicy.from_catalog(
            "enterprise_profile", "credit_code", fields(_ENTERPRISE), masks=_ENTERPRISE_MASKS,
            overrides={**_ENTERPRISE_OVERRIDES, "version": "internal", "projected_at": "internal"}),
    }


def audit_entry(request: web.Request, access: Access, *, subject_kind: str, subject: str,
                endpoint: str, view: View | None, status: int) -> AuditEntry:
    """The audit record of one read, before it is linked into the chain."""
    result = "ok" if status < 300 else "not_found" if status == 404 else "denied"
    return AuditEntry(request_id_of(request), access.client.id, access.purpose, subject_kind,
                      subject, endpoint, tuple(view.revealed) if view else (),
                      tuple(view.masked) if view else (), result, status)


async def audit_read(request: web.Request, access: Access, *, subject_kind: str, subject: str,
                     endpoint: str, view: View | None, status: int) -> web.Response | None:
    """Append the audit record of a read; a 503 response when it could not be stored."""
    return await audit_reads(request, [audit_entry(
        request, access, subject_kind=subject_kind, subject=subject, endpoint=endpoint, view=view,
        status=status)])


async def audit_reads(request: web.Request, entries: Sequence[AuditEntry]) -> web.Response | None:
    """Append the audit records of several reads at once (a subscription's batch of events);
    a 503 response when any could not be stored — then none of them may be answered."""
    try:
        await request.app[AUDIT].append_many(entries)
    except Exception as exc:
        log.error("audit record not stored, read refused: %s", exc)
        response = problem(503, "audit-unavailable", "Audit log unavailable",
                           "the read could not be recorded in the audit log; try again shortly")
        response.headers["Retry-After"] = "5"
        return response
    return None


def view_of(request: web.Request, projection: str, profile: Mapping[str, Any], access: Access
            ) -> View:
    return request.app[POLICIES][projection].view(profile, access)
