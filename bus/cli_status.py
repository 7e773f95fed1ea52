"""``bus status``: the stack, then the dashboard's figures as tables, for a terminal.

Two samples ``--interval`` seconds apart give the rates; the same collector and views as the
``/ops/`` dashboard give the same numbers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from bus.settings import Settings
from bus.web.ops.collector import Collector, KafkaSampler
from bus.web.ops.samples import group_rows, topic_rows
from bus.web.ops.views import adapter_rows, group_health, projection_rows

__all__ = ["collect", "print_figures"]

_STYLE = {"ok": "green", "warn": "yellow", "bad": "red", "unknown": "dim"}


async def collect(settings: Settings, interval: float) -> Collector:
    """A collector after two rounds ``interval`` seconds apart (failures go in the tables, not
    in the log)."""
    logging.getLogger("bus.web.ops.collector").setLevel(logging.ERROR)
    from bus.web.ops import positions_reader
    from bus.web.ops.rebuilds import rebuild_reader, store_positions
    from projections.citizen_profile.queries import CitizenProfileQueries
    from projections.enterprise_profile.queries import EnterpriseProfileQueries

    citizens = CitizenProfileQueries.at(settings.read_store_path.resolve(), settings.read_store_url)
    enterprises = EnterpriseProfileQueries.at(
        settings.projection_store_path("enterprise_profile").resolve(), settings.read_store_url)
    readers = {"citizen_profile": positions_reader(citizens),
               "enterprise_profile": positions_reader(enterprises)}
    if not settings.read_store_url:
        readers["newborn_case"] = store_positions(
            settings.projection_store_path("newborn_case").resolve())
    rebuilds = {} if settings.read_store_url else {
        name: rebuild_reader(name, settings.projection_store_path(name).resolve()) for name in readers}
    collector = Collector(KafkaSampler(settings.kafka_bootstrap), settings.adapters_url, readers,
                          rebuilds)
    try:
        await collector.collect_once()
        if collector.kafka_error is None:
            await asyncio.sleep(interval)
            await collector.collect_once()
    finally:
        await collector.sampler.close()
        citizens.readers.close()
        enterprises.readers.close()
    return collector


def _health(value: str) -> str:
    return f"[{_STYLE.get(value, 'dim')}]●[/] {value}"


def _number(value: Any, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _bytes(value: float | None) -> str:
    if value is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _table(title: str, columns: Sequence[str], numeric: Sequence[str] = ()) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left",
                         overflow="fold")
    return table


def print_figures(console: Console, collector: Collector, *, limit: int,
                  projection_groups: Sequence[str]) -> None:
    history = collector.history
    if collector.kafka_error:
        console.print(f"[red]Kafka not sampled: {collector.kafka_error}[/]")
    else:
        topics = sorted(topic_rows(history), key=lambda t: (-t["messages_per_second"], t["name"]))
        out = _table(f"topics ({len(topics)}; busiest {min(limit, len(topics))})",
                     ("topic", "partitions", "messages", "msg/s", "size", "bytes/s"),
                     ("partitions", "messages", "msg/s", "size", "bytes/s"))
        for t in topics[:limit]:
            out.add_row(t["name"], str(t["partitions"]), _number(t["messages"]),
                        _number(t["messages_per_second"], 1), _bytes(t["bytes"]),
                        _bytes(t["bytes_per_second"]))
        console.print(out)
        groups = group_rows(history)
        for g in groups:
            g["health"] = group_health(g)
        groups.sort(key=lambda g: (-g["lag"], g["group"]))
        out = _table(f"consumer groups ({len(groups)}; most lag {min(limit, len(groups))})",
                     ("", "group", "state", "members", "lag", "lag s", "topics"),
                     ("members", "lag", "lag s"))
        for g in groups[:limit]:
            seconds = ("≈" if g["lag_seconds_estimated"] else "") + _number(g["lag_seconds"], 1)
            out.add_row(_health(g["health"]), g["group"], g["state"], str(g["members"]),
                        _number(g["lag"]), seconds, ", ".join(g["topics"][:3])
                        + (" …" if len(g["topics"]) > 3 else ""))
        console.print(out)
    if collector.adapters_error:
        console.print(f"[yellow]adapters: {collector.adapters_error}[/]")
    else:
        out = _table("adapters", ("", "table", "engine/strategy", "state", "rows", "rows/s",
                                  "quarantined", "errors/retries", "source", "position"),
                     ("rows", "rows/s", "quarantined"))
        for a in adapter_rows(collector.adapters):
            reachable = a.get("source_reachable")
            out.add_row(_health(a["health"]), a["name"], f"{a.get('engine')}/{a.get('strategy')}",
                        str(a.get("state")), _number(a.get("rows")),
                        _number(a.get("rows_per_second"), 1), str(a.get("quarantined")),
                        f"{a.get('errors')}/{a.get('retries')}",
                        "?" if reachable is None else "up" if reachable else "DOWN",
                        str(a.get("position"))[:24])
        console.print(out)
    out = _table("projections", ("", "projection", "position", "lag", "lag s", "rebuild"),
                 ("position", "lag", "lag s"))
    for p in projection_rows(history, collector.positions, collector.rebuilds):
        rebuilding = ", ".join(f"{r['store']} {r['progress'] * 100:.0f}%" for r in p["rebuilds"]
                               if r["progress"] is not None)
        out.add_row(_health(p["health"]), p["name"], _number(p["position"]), _number(p["lag"]),
                    _number(p["lag_seconds"], 1), rebuilding)
    for g in group_rows(history):
        if g["group"] in projection_groups:
            out.add_row(_health(group_health(g)), f"group {g['group']}", "", _number(g["lag"]),
                        _number(g["lag_seconds"], 1))
    console.print(out)
