"""What the dashboard shows, computed from the collector's state (no I/O).

Health of a node: ``ok``, ``warn``, ``bad`` or ``unknown``. A consumer group is ``warn`` when
its oldest unprocessed message has waited more than :data:`LAG_WARN_SECONDS`, ``bad`` past
:data:`LAG_BAD_SECONDS` or when it has lag and no member; an adapter by its capture state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bus.web.ops.rebuilds import progress_of
from bus.web.ops.samples import History, group_rows, topic_rows

__all__ = ["adapter_rows", "group_health", "overview", "projection_rows", "topology"]

LAG_WARN_SECONDS = 30.0
LAG_BAD_SECONDS = 300.0
_ADAPTER_HEALTH = {"streaming": "ok", "snapshotting": "ok", "starting": "warn",
                   "degraded": "warn", "failed": "bad", "stopped": "bad"}
_RANK = {"unknown": 0, "ok": 1, "warn": 2, "bad": 3}


def worst(healths: Sequence[str], empty: str = "unknown") -> str:
    return max(healths, key=lambda h: _RANK[h]) if healths else empty


def group_health(row: Mapping[str, Any]) -> str:
    if row["lag"] and not row["members"] and row["lag_seconds"] > LAG_WARN_SECONDS:
        return "bad"
    if row["lag_seconds"] > LAG_BAD_SECONDS:
        return "bad"
    if row["lag_seconds"] > LAG_WARN_SECONDS:
        return "warn"
    return "ok"


def adapter_rows(adapters: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for c in adapters:
        row = dict(c)
        row["name"] = f"{c.get('department')}.{c.get('table')}"
        row["health"] = _ADAPTER_HEALTH.get(str(c.get("state")), "unknown")
        rows.append(row)
    return rows


def projection_rows(history: History, positions: Mapping[str, Sequence[Mapping[str, Any]]],
                    rebuilds: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
                    ) -> list[dict[str, Any]]:
    """Each read store: the input positions it stored, how far the log is ahead of them, and
    the progress of its rebuilds in progress."""
    latest = history.latest
    rows = []
    for name, stored in sorted(positions.items()):
        lag: int | None = 0 if stored else None  # no positions: no store yet
        seconds = 0.0
        parts: list[dict[str, Any]] = []
        for p in stored:
            topic, partition, offset = str(p["topic"]), int(p["partition"]), int(p["next_offset"])
            end = None if latest is None else latest.end(topic, partition)
            behind = None if end is None else max(0, end - offset)
            waited, _ = history.lag_seconds(topic, partition, offset)
            seconds = max(seconds, waited)
            parts.append({"topic": topic, "partition": partition, "position": offset,
                          "end_offset": end, "lag": behind})
            lag = None if lag is None or behind is None else lag + behind
        health = ("unknown" if latest is None or not stored else
                  "bad" if seconds > LAG_BAD_SECONDS else
                  "warn" if seconds > LAG_WARN_SECONDS else "ok")
        rows.append({"name": name, "partitions": parts, "position": sum(p["position"] for p in parts),
                     "lag": lag, "lag_seconds": round(seconds, 1), "health": health,
                     "rebuilds": [progress_of(r, stored, latest)
                                  for r in (rebuilds or {}).get(name, ())]})
    return rows


def overview(history: History, *, kafka_error: str | None, adapters: Sequence[Mapping[str, Any]],
             adapters_error: str | None, positions: Mapping[str, Sequence[Mapping[str, Any]]],
             projection_groups: Sequence[str],
             rebuilds: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> dict[str, Any]:
    """The figures at the top of the page and in the SSE stream."""
    topics = topic_rows(history)
    groups = group_rows(history)
    for g in groups:
        g["health"] = group_health(g)
    latest = history.latest
    return {
        "at": None if latest is None else latest.at,
        "kafka": {"reachable": kafka_error is None and latest is not None, "error": kafka_error},
        "topics": len(topics), "groups": len(groups),
        "messages_per_second": round(sum(t["messages_per_second"] for t in topics), 2),
        "bytes_per_second": round(sum(t["bytes_per_second"] or 0 for t in topics), 1),
        "total_lag": sum(g["lag"] for g in groups),
        "groups_lagging": sum(1 for g in groups if g["health"] != "ok"),
        "adapters": {"count": len(adapters), "error": adapters_error,
                     "rows_per_second": round(sum(float(a.get("rows_per_second") or 0)
                                                  for a in adapters), 1)},
        "topology": topology(topics, groups, adapter_rows(adapters), adapters_error,
                             projection_rows(history, positions, rebuilds), projection_groups,
                             kafka_error),
    }


def topology(topics: Sequence[Mapping[str, Any]], groups: Sequence[Mapping[str, Any]],
             adapters: Sequence[Mapping[str, Any]], adapters_error: str | None,
             projections: Sequence[Mapping[str, Any]], projection_groups: Sequence[str],
             kafka_error: str | None) -> dict[str, Any]:
    """Columns of nodes, left to right: legacy databases → adapters → topics → processors →
    projections → API, subscribers and sinks; and the edges between them."""
    kafka = "bad" if kafka_error else "ok"

    def topic_node(kind: str) -> dict[str, Any]:
        chosen = [t for t in topics if t["kind"] == kind]
        return {"id": f"topics.{kind}", "label": f"{kind}.*", "kind": "topics",
                "count": len(chosen), "health": kafka if chosen else "unknown",
                "rate": round(sum(t["messages_per_second"] for t in chosen), 2)}

    departments = sorted({str(a.get("department")) for a in adapters})
    sources = [{"id": f"db.{d}", "label": d, "kind": "database",
                "engine": next((str(a.get("engine")) for a in adapters if a.get("department") == d), ""),
                "health": worst([_source_health(a) for a in adapters if a.get("department") == d])}
               for d in departments]
    adapter_nodes = [{"id": f"adapter.{d}", "label": d, "kind": "adapter",
                      "health": worst([a["health"] for a in adapters if a.get("department") == d]),
                      "rate": round(sum(float(a.get("rows_per_second") or 0) for a in adapters
                                        if a.get("department") == d), 1)}
                     for d in departments]
    if not adapter_nodes:
        adapter_nodes = [{"id": "adapter.all", "label": "adapters", "kind": "adapter",
                          "health": "bad" if adapters_error else "unknown"}]

    def group_node(node_id: str, label: str, kind: str, chosen: list[Mapping[str, Any]]
                   ) -> dict[str, Any]:
        return {"id": node_id, "label": label, "kind": kind, "count": len(chosen),
                "health": worst([str(g["health"]) for g in chosen]),
                "lag": sum(int(g["lag"]) for g in chosen)}

    standardize = [g for g in groups if str(g["group"]).startswith("bus.standardize.")]
    projecting = [g for g in groups if g["group"] in projection_groups]
    others = [g for g in groups if g not in standardize and g not in projecting]
    projection_nodes = [{"id": f"projection.{p['name']}", "label": p["name"], "kind": "projection",
                         "health": p["health"], "lag": p["lag"],
                         "rebuild": next((r["progress"] for r in p.get("rebuilds", ())), None)}
                        for p in projections]
    columns = [
        sources or [{"id": "db.all", "label": "legacy DBs", "kind": "database", "health": "unknown"}],
        adapter_nodes,
        [topic_node("legacy")],
        [group_node("processor.standardize", "standardize", "processor", standardize)],
        [topic_node("std"), topic_node("quarantine"), topic_node("bus")],
        [group_node("processor.projections", "projections", "processor", projecting),
         *projection_nodes],
        [{"id": "api", "label": "API /v1", "kind": "api", "health": "ok"},
         group_node("subscribers", "subscribers & sinks", "subscriber", others)],
    ]
    edges: list[tuple[str, str]] = [(str(s["id"]), f"adapter.{s['label']}") for s in sources]
    edges += [(str(a["id"]), "topics.legacy") for a in adapter_nodes]
    edges += [("topics.legacy", "processor.standardize"),
              ("processor.standardize", "topics.std"), ("processor.standardize", "topics.quarantine"),
              ("topics.std", "processor.projections"), ("topics.std", "subscribers"),
              ("topics.bus", "subscribers")]
    edges += [("processor.projections", str(p["id"])) for p in projection_nodes]
    edges += [(str(p["id"]), "api") for p in projection_nodes] or [("processor.projections", "api")]
    return {"columns": columns, "edges": [{"from": a, "to": b} for a, b in edges]}


def _source_health(adapter: Mapping[str, Any]) -> str:
    reachable = adapter.get("source_reachable")
    return "unknown" if reachable is None else "ok" if reachable else "bad"
