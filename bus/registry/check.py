"""``bus schemas check``: the repository's Avro schemas against what the registry holds.

Each shipped schema (``schemas/avro/*.avsc``, not ``history/``) belongs to subjects named by
Confluent's TopicNameStrategy, as the bus registers them when it first produces:

* ``<entity>.avsc`` → ``std.<entity>-value``; ``<entity>_key.avsc`` → ``std.<entity>-key``;
* ``quarantined_record.avsc`` (namespace ``rongtong.quarantine``) → every
  ``quarantine.<dept>.<table>-value`` subject;
* a schema may name its topic itself with a top-level ``"topic"`` property (``*`` allowed).

``check_schemas`` is pure: given the repository schemas and the registered subjects (level and
live versions), it says for each subject whether the repository schema is new, unchanged,
compatible or incompatible under the subject's level, and for incompatible ones which fields
changed how and why that breaks the level. ``fetch_registered`` reads the registry over HTTP.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.resources import files
from typing import Any

import aiohttp

from bus.registry.canonical import canonical_text, parse_avro
from bus.registry.compat import CompatibilityLevel, PastVersion, incompatibilities, parse_level
from bus.registry.errors import InvalidSchema

__all__ = [
    "CheckResult",
    "CheckStatus",
    "RegisteredSubject",
    "RegistryUnavailable",
    "RepositorySchema",
    "check_repository",
    "check_schemas",
    "describe_changes",
    "fetch_registered",
    "render_report",
    "repository_schemas",
    "subject_pattern",
]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryUnavailable(Exception):
    """The registry did not answer, or answered something that is not a registry's answer."""


@dataclass(frozen=True, slots=True)
class RepositorySchema:
    """A shipped schema and the subject (or ``*`` pattern of subjects) it is registered under."""

    name: str
    subject: str
    schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RegisteredSubject:
    """A subject as the registry holds it: its effective level and live versions, oldest first."""

    subject: str
    level: CompatibilityLevel
    versions: tuple[tuple[int, str], ...]


class CheckStatus(StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"
    COMPATIBLE = "compatible"
    INCOMPATIBLE = "incompatible"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict for one repository schema under one subject."""

    name: str
    subject: str
    status: CheckStatus
    level: CompatibilityLevel | None = None
    latest_version: int | None = None
    changes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        return self.status in (CheckStatus.INCOMPATIBLE, CheckStatus.INVALID)


# -- which subjects ------------------------------------------------------------------------


def subject_pattern(name: str, schema: Mapping[str, Any]) -> str:
    """The subject, or ``*`` pattern of subjects, a shipped schema is registered under."""
    topic = schema.get("topic")
    is_key = name.endswith("_key")
    if not isinstance(topic, str):
        if str(schema.get("namespace", "")).endswith(".quarantine"):
            topic = "quarantine.*"
        else:
            topic = f"std.{name.removesuffix('_key')}"
    return f"{topic}-{'key' if is_key else 'value'}"


def repository_schemas() -> list[RepositorySchema]:
    """Every ``schemas/avro/*.avsc`` (history excluded), sorted by name."""
    folder = files("schemas").joinpath("avro")
    found: list[RepositorySchema] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not (entry.is_file() and entry.name.endswith(".avsc")):
            continue
        name = entry.name.removesuffix(".avsc")
        schema = json.loads(entry.read_text(encoding="utf-8"))
        found.append(RepositorySchema(name, subject_pattern(name, schema), schema))
    return found


def _expand(pattern: str, subjects: Iterable[str]) -> list[str]:
    if "*" not in pattern:
        return [pattern]
    return sorted(s for s in subjects if fnmatch.fnmatchcase(s, pattern))


# -- the check -----------------------------------------------------------------------------


def check_schemas(
    repository: Sequence[RepositorySchema], registered: Mapping[str, RegisteredSubject]
) -> list[CheckResult]:
    """One result per (repository schema, subject). A pattern no registered subject matches
    gives one ``new`` result under the pattern itself."""
    results: list[CheckResult] = []
    for repo in repository:
        subjects = _expand(repo.subject, registered) or [repo.subject]
        for subject in subjects:
            results.append(_check_one(repo, subject, registered.get(subject)))
    return results


def _check_one(
    repo: RepositorySchema, subject: str, registered: RegisteredSubject | None
) -> CheckResult:
    try:
        candidate = parse_avro(json.dumps(repo.schema))
    except InvalidSchema as exc:
        return CheckResult(repo.name, subject, CheckStatus.INVALID, reasons=(exc.message,))
    if registered is None or not registered.versions:
        level = registered.level if registered else None
        return CheckResult(repo.name, subject, CheckStatus.NEW, level)
    level = registered.level
    latest_version, latest_text = registered.versions[-1]
    if canonical_text(candidate) == canonical_text(latest_text):
        return CheckResult(repo.name, subject, CheckStatus.UNCHANGED, level, latest_version)
    history = [PastVersion(v, parse_avro(text)) for v, text in registered.versions]
    reasons = incompatibilities(candidate, history, level)
    changes = describe_changes(json.loads(latest_text), repo.schema, level)
    status = CheckStatus.INCOMPATIBLE if reasons else CheckStatus.COMPATIBLE
    return CheckResult(
        repo.name, subject, status, level, latest_version, tuple(changes), tuple(reasons)
    )


# -- describing a change -------------------------------------------------------------------


def describe_changes(
    old: Any, new: Any, level: CompatibilityLevel = CompatibilityLevel.NONE
) -> list[str]:
    """Field by field, how ``new`` differs from ``old`` (schema JSON), nested records included.

    Each line starts with ``+`` (added), ``-`` (removed) or ``~`` (changed); a change that on
    its own breaks ``level`` says so and why.
    """
    lines: list[str] = []
    _diff(old, new, "", level, lines)
    return lines


def _diff(old: Any, new: Any, path: str, level: CompatibilityLevel, lines: list[str]) -> None:
    old_t, new_t = _strip_null(old), _strip_null(new)
    if _is_record(old_t) and _is_record(new_t):
        if _full_name(old_t) != _full_name(new_t):
            lines.append(f"~ {path or 'record'}: renamed {_full_name(old_t)} → {_full_name(new_t)}")
        _diff_fields(old_t, new_t, path, level, lines)
        if path and _nullable(old) != _nullable(new):
            lines.append(f"~ field {path}: {_describe(old)} → {_describe(new)}")
        return
    if _describe(old) != _describe(new):
        what = f"field {path}" if path else "schema"
        lines.append(f"~ {what}: type {_describe(old)} → {_describe(new)}")
    elif isinstance(old_t, dict) and old_t.get("type") == "enum":
        removed = sorted(set(old_t.get("symbols", [])) - set(new_t.get("symbols", [])))
        added = sorted(set(new_t.get("symbols", [])) - set(old_t.get("symbols", [])))
        if removed or added:
            lines.append(f"~ field {path}: enum symbols +{added} -{removed}")


def _diff_fields(
    old: dict[str, Any], new: dict[str, Any], path: str, level: CompatibilityLevel, lines: list[str]
) -> None:
    old_fields = {f["name"]: f for f in old.get("fields", [])}
    new_fields = {f["name"]: f for f in new.get("fields", [])}
    renamed_from = {
        alias: name for name, f in new_fields.items() for alias in f.get("aliases", [])
    }
    for name, f in new_fields.items():
        where = f"{path}.{name}" if path else name
        if name in old_fields:
            _diff_field(old_fields[name], f, where, level, lines)
            continue
        source = next((a for a, n in renamed_from.items() if n == name and a in old_fields), None)
        if source is not None:
            lines.append(f"~ field {where}: renamed from {source} (alias)")
            continue
        line = f"+ field {where}: {_describe(f['type'])}, {_default_text(f)}"
        if "default" not in f and level.checks_backward:
            line += (
                f"\n    breaks {level.value}: data written without {where} cannot be read;"
                " give it a default"
            )
        lines.append(line)
    for name, f in old_fields.items():
        if name in new_fields or name in renamed_from:
            continue
        where = f"{path}.{name}" if path else name
        line = f"- field {where}: {_describe(f['type'])}, {_default_text(f)}"
        if "default" not in f and level.checks_forward:
            line += (
                f"\n    breaks {level.value}: readers of the registered schema need {where},"
                " which has no default there"
            )
        lines.append(line)


def _diff_field(
    old: dict[str, Any], new: dict[str, Any], where: str, level: CompatibilityLevel, lines: list[str]
) -> None:
    before = len(lines)
    _diff(old["type"], new["type"], where, level, lines)
    if len(lines) > before:
        return
    had, has = "default" in old, "default" in new
    if had and not has:
        line = f"~ field {where}: default {json.dumps(old['default'])} removed"
        if level.checks_backward:
            line += f"\n    breaks {level.value} if older data lacks {where}"
        lines.append(line)
    elif has and not had:
        lines.append(f"~ field {where}: default {json.dumps(new['default'])} added")
    elif had and old["default"] != new["default"]:
        lines.append(
            f"~ field {where}: default {json.dumps(old['default'])} → {json.dumps(new['default'])}"
        )


def _strip_null(t: Any) -> Any:
    if isinstance(t, list):
        rest = [b for b in t if b != "null"]
        return rest[0] if len(rest) == 1 else t
    return t


def _nullable(t: Any) -> bool:
    return isinstance(t, list) and "null" in t


def _is_record(t: Any) -> bool:
    return isinstance(t, dict) and t.get("type") == "record"


def _full_name(t: dict[str, Any]) -> str:
    name = str(t.get("name", "?"))
    namespace = t.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _describe(t: Any) -> str:
    """A short human form of an Avro type: ``string``, ``int(date)``, ``null|string``..."""
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return "|".join(_describe(b) for b in t)
    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "record":
            return f"record {t.get('name')}"
        if kind == "enum":
            return f"enum {t.get('name')}"
        if kind == "array":
            return f"array<{_describe(t.get('items'))}>"
        if kind == "map":
            return f"map<{_describe(t.get('values'))}>"
        if kind == "fixed":
            return f"fixed {t.get('name')}({t.get('size')})"
        logical = t.get("logicalType")
        return f"{kind}({logical})" if logical else _describe(kind)
    return str(t)


def _default_text(f: Mapping[str, Any]) -> str:
    return f"default {json.dumps(f['default'])}" if "default" in f else "no default"


# -- the report ----------------------------------------------------------------------------


def render_report(results: Sequence[CheckResult]) -> str:
    """Details of every failing subject, then a table of all of them and a one-line verdict."""
    out: list[str] = []
    for r in results:
        if not r.failed:
            continue
        if r.status is CheckStatus.INVALID:
            out.append(f"✗ {r.subject}: schemas/avro/{r.name}.avsc is not a valid Avro schema")
        else:
            out.append(
                f"✗ {r.subject}: schemas/avro/{r.name}.avsc is incompatible with registered"
                f" version {r.latest_version} under {r.level}"
            )
            out.append(f"  changes against version {r.latest_version}:")
            out += [f"    {line}" for c in r.changes for line in c.splitlines()] or ["    (none)"]
        out.append("  why:")
        out += [f"    {reason}" for reason in r.reasons]
        out.append("")
    headers = ("subject", "schema", "level", "registered", "result")
    rows = [
        (
            r.subject,
            f"{r.name}.avsc",
            r.level.value if r.level else "-",
            f"v{r.latest_version}" if r.latest_version else "-",
            r.status.value,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    for row in (headers, tuple("-" * w for w in widths), *rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    failed = sum(r.failed for r in results)
    out.append("")
    out.append(
        f"{failed} of {len(results)} subjects would break; see above."
        if failed
        else f"all {len(results)} subjects compatible (or new)."
    )
    return "\n".join(out)


# -- reading the registry ------------------------------------------------------------------


async def fetch_registered(
    url: str, patterns: Iterable[str], *, timeout: float = 10.0
) -> dict[str, RegisteredSubject]:
    """The registered subjects matching ``patterns``, with their effective level and live
    versions. Raises RegistryUnavailable when the registry cannot be read."""
    base = url.rstrip("/")
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout), headers={"Accept": _CONTENT_TYPE}
        ) as http:
            all_subjects = [str(s) for s in await _get(http, f"{base}/subjects")]
            wanted = sorted(
                {s for p in patterns for s in _expand(p, all_subjects) if s in all_subjects}
            )
            found: dict[str, RegisteredSubject] = {}
            for subject in wanted:
                config = await _get(http, f"{base}/config/{subject}?defaultToGlobal=true")
                numbers = await _get(http, f"{base}/subjects/{subject}/versions")
                versions = []
                for number in numbers:
                    body = await _get(http, f"{base}/subjects/{subject}/versions/{number}")
                    versions.append((int(body["version"]), str(body["schema"])))
                level = parse_level(config.get("compatibilityLevel"))
                found[subject] = RegisteredSubject(subject, level, tuple(versions))
            return found
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise RegistryUnavailable(
            f"schema registry at {base} is unreachable: {exc or type(exc).__name__}"
        ) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RegistryUnavailable(f"{base} did not answer like a schema registry: {exc}") from exc


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        body = await response.json(content_type=None)
        if response.status >= 400:
            message = body.get("message") if isinstance(body, dict) else body
            raise RegistryUnavailable(f"{url} answered HTTP {response.status}: {message}")
        return body


async def check_repository(url: str) -> list[CheckResult]:
    """``check_schemas`` of the shipped schemas against the registry at ``url``."""
    repository = repository_schemas()
    registered = await fetch_registered(url, [r.subject for r in repository])
    return check_schemas(repository, registered)
