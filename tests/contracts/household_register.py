"""The write-back contract's target on every SQL engine of Public Security: the household
register ``hj_ryxx`` the reference mapping writes (``writeback/gongan.hj_ryxx.yaml``)."""

from __future__ import annotations

from typing import Any, ClassVar

from tests.contracts.writeback_contract import LegacyTarget, register_columns


class HouseholdRegister(LegacyTarget):
    """What every engine's ``hj_ryxx`` shares: the mapping, its columns, a clerk's approval."""

    mapping = "writeback/gongan.hj_ryxx.yaml"
    entity = "household_registration"
    department = "gongan"
    table = "hj_ryxx"
    key_column = "RYBH"
    name_column = "XM"
    updated_column = "GXSJ"
    approval: ClassVar[dict[str, str]] = {"SFZH": "110105202611020013"}

    def expected(self, value: dict[str, Any]) -> dict[str, str | None]:
        return register_columns(value)
