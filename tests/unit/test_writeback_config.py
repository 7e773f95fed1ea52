"""The write-back configuration: the reference sinks, and what a broken entry is told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.sinks.config import (
    ConfigError,
    load_configured_sinks,
    load_sink_config,
    parse_sink_config,
    reference_writeback_path,
)
from bus.settings import Settings


def test_the_reference_configuration_writes_gongan_rsj_and_mz_from_the_new_canonical_topics(
) -> None:
    sinks = {s.name: s for s in load_sink_config(reference_writeback_path(), {})}

    assert set(sinks) == {"gongan.hj_ryxx", "rsj.ac01", "mz.csdj"}
    assert sinks["gongan.hj_ryxx"].topic == "std.household_registration"
    assert sinks["rsj.ac01"].topic == "std.insurance_enrolment"
    assert sinks["mz.csdj"].engine == "files"
    assert {s.conflict_policy for s in sinks.values()} == {"legacy_wins"}
    assert sinks["gongan.hj_ryxx"].conflict_topic == "writeback.conflicts.gongan.hj_ryxx"
    assert sinks["rsj.ac01"].quarantine_topic == "writeback.quarantine.rsj.ac01"


def test_the_gongan_sink_writes_the_demos_register_in_the_state_directory(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    [gongan] = [s for s in load_configured_sinks(settings) if s.department == "gongan"]

    assert Path(gongan.connection["path"]) == (tmp_path / "legacy" / "gongan.sqlite").resolve()


def entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"department": "gongan", "engine": "sqlite", "table": "hj_ryxx",
                            "connection": {"path": "x.sqlite"},
                            "mapping": "writeback/gongan.hj_ryxx.yaml"}
    base.update(changes)
    return base


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"engine": "oracle"}, "engine 'oracle'"),
    ({"conflict_policy": "newest_wins"}, "conflict_policy 'newest_wins'"),
    ({"table": "hj_jtxx"}, "is for gongan.hj_ryxx"),
    ({"key": ["SFZH"]}, "differs from the mapping's"),
    ({"connection": {}}, "connection.path"),
    ({"mapping": "writeback/nowhere.yaml"}, "cannot read reverse mapping"),
])
def test_a_broken_sink_entry_is_refused_with_its_place_and_key(
    changes: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=r"sinks\[0\]") as caught:
        parse_sink_config({"sinks": [entry(**changes)]})

    assert complaint in str(caught.value)


def test_two_sinks_into_one_table_are_refused() -> None:
    with pytest.raises(ConfigError, match="same table"):
        parse_sink_config({"sinks": [entry(), entry()]})
