"""The demo's clients: an analyst with a purpose and an operator, fresh keys on every run."""

from __future__ import annotations

from pathlib import Path

from bus.access.clients import ClientStore
from bus.demo.clients import demo_clients, demo_jwt_secret
from bus.settings import load_settings


def test_the_demo_registers_an_analyst_and_an_operator_and_rotates_on_a_second_run(
        tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path)
    first = {c.id: c for c in demo_clients(settings)}
    second = {c.id: c for c in demo_clients(settings)}
    store = ClientStore(settings.clients_path)
    try:
        analyst = store.authenticate(second["analyst"].key)
        operator = store.authenticate(second["operator"].key)
        assert analyst is not None and analyst.purposes == {first["analyst"].purpose}
        assert "sensitive_personal" not in analyst.classifications
        assert operator is not None and "operator" in operator.roles
        app = store.authenticate(second["citizen-app"].key)
        assert app is not None and app.publishes == {"service_case"} and "operator" not in app.roles
        assert store.authenticate(first["analyst"].key) is None, "the old key was rotated out"
    finally:
        store.close()
    assert demo_jwt_secret(settings) == demo_jwt_secret(settings)
