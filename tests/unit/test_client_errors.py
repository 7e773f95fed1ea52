"""problem+json answers become the SDK's exceptions; a bad event fails before it is sent."""

from __future__ import annotations

import datetime as dt

import pytest

from bus.client import (
    BusError,
    NotAuthorized,
    NotFound,
    RateLimited,
    ServiceCase,
    Unavailable,
    ValidationFailed,
)
from bus.client.client import _event_body
from bus.client.errors import FieldError, error_from
from bus.client.models import CaseStep


def test_each_status_maps_to_its_exception() -> None:
    assert type(error_from(401, {"type": "/problems/unauthenticated", "title": "x", "status": 401})) \
        is NotAuthorized
    assert type(error_from(403, {"type": "/problems/purpose-not-granted"})) is NotAuthorized
    assert type(error_from(404, {"type": "/problems/citizen-not-found"})) is NotFound
    assert type(error_from(422, {})) is ValidationFailed
    assert type(error_from(400, {})) is ValidationFailed
    assert type(error_from(429, {})) is RateLimited
    assert type(error_from(503, {})) is Unavailable
    plain = error_from(500, "not json")
    assert type(plain) is BusError and plain.status == 500 and plain.problem == {}
    assert all(issubclass(e, BusError) for e in (NotAuthorized, NotFound, ValidationFailed,
                                                 RateLimited, Unavailable))


def test_the_problem_is_kept_and_readable() -> None:
    error = error_from(404, {"type": "/problems/citizen-not-found", "title": "Citizen not found",
                             "status": 404, "detail": "no citizen profile has this identity number"})
    assert error.type == "/problems/citizen-not-found" and error.title == "Citizen not found"
    assert str(error) == "404 Citizen not found: no citizen profile has this identity number"


def test_validation_failed_lists_every_field_error() -> None:
    error = error_from(422, {"type": "/problems/invalid-event", "title": "The event does not fit",
                             "errors": [{"field": "applicant_identity_number", "message": "bad check"},
                                        {"field": "steps[0].task", "message": "required"}]})
    assert isinstance(error, ValidationFailed)
    assert error.errors == [FieldError("applicant_identity_number", "bad check"),
                            FieldError("steps[0].task", "required")]


def test_a_refused_parameter_is_a_field_error_too() -> None:
    error = error_from(400, {"type": "/problems/invalid-parameter", "title": "Invalid query parameter",
                             "detail": "limit must be an integer", "parameter": "limit"})
    assert isinstance(error, ValidationFailed)
    assert error.errors == [FieldError("limit", "limit must be an integer")]


def test_retry_after_is_honoured_in_seconds() -> None:
    limited = error_from(429, {"type": "/problems/too-many-requests"}, {"Retry-After": "3"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 3.0
    behind = error_from(503, {}, {"Retry-After": "1"})
    assert isinstance(behind, Unavailable) and behind.retry_after == 1.0
    odd = error_from(503, {}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert isinstance(odd, Unavailable) and odd.retry_after is None


def _case(**changes: object) -> dict[str, object]:
    moment = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
    body: dict[str, object] = {"case_id": "ZW1", "case_type": "newborn", "status_code": "submitted",
                               "applicant_identity_number": "330106199003071236",
                               "submitted_at": moment, "updated_at": moment}
    body.update(changes)
    return body


def test_a_body_that_does_not_fit_the_model_fails_before_sending_with_paths() -> None:
    with pytest.raises(ValidationFailed) as caught:
        _event_body(ServiceCase, _case(case_id=17, steps=[{"department": "gongan"}]), False)
    fields = {e.field for e in caught.value.errors}
    assert fields == {"case_id", "steps[0].task", "steps[0].status_code"}
    assert caught.value.status == 422


def test_a_model_is_published_as_json_without_the_bus_filled_source() -> None:
    case = ServiceCase.model_validate(_case(steps=[CaseStep(department="gongan", task="t",
                                                                 status_code="submitted")]))
    event_type, body = _event_body(case, None, False)
    assert event_type == "rongtong.std.service_case.upserted"
    assert "source" not in body
    assert body["submitted_at"] == "2026-11-27T08:00:00Z" and body["steps"][0]["task"] == "t"
    assert _event_body("rongtong.std.service_case.upserted", _case(), False)[1] == body | {"steps": []}


def test_a_deletion_sends_the_key_alone() -> None:
    assert _event_body(ServiceCase, _case(), True) == ("rongtong.std.service_case.deleted",
                                                       {"case_id": "ZW1"})
    with pytest.raises(TypeError):
        _event_body(ServiceCase, None, False)
