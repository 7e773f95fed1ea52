"""Avro binary encoders compiled once per writer schema, byte-identical to fastavro's.

``fastavro.schemaless_writer`` re-resolves every union per record by validating the datum
against each branch — for a change event whose ``after`` image is a ``["null", Row]`` union
that means validating the whole row before writing it. A compiled encoder decides the shape
once: every record, enum, fixed, array, map, primitive and ``["null", T]`` union of the schema
becomes a small closure, and a record is written by walking a tuple of field writers.

Schemas with constructs it does not compile (logical types, unions other than null + one
type) get no compiled encoder: :func:`compile_encoder` returns None and the caller keeps
fastavro. Data that does not fit the schema raises :class:`ValueError` (or ``TypeError``),
never produces bytes.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Mapping
from typing import Any

from bus.speedups import speedups

Writer = Callable[[bytearray, Any], None]
Encoder = Callable[[Any], bytes]

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)
_LONG_RANGE = (-(2 ** 63), 2 ** 63 - 1)
_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")


class NotCompilable(Exception):
    """The schema uses something the compiled encoders leave to fastavro."""


@functools.lru_cache(maxsize=4096)  # timestamps repeat: one capture time per batch
def _varint(value: int) -> bytes:
    """Zig-zag variable-length encoding of a (64-bit) long."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = tuple(_varint(n) for n in range(4096))  # lengths and counts: one lookup


def _long_bytes(value: int) -> bytes:
    return _SMALL[value] if 0 <= value < 4096 else _varint(value)


def string_bytes(text: str) -> bytes:
    """The Avro encoding of one string (length, UTF-8 bytes)."""
    data = text.encode()
    return _long_bytes(len(data)) + data


def compile_encoder(schema: Any, prefix: bytes = b"") -> Encoder | None:
    """A function record → ``prefix`` + Avro body, or None when fastavro must do it."""
    try:
        write = _Compiler(speedups()).writer(schema, "")
    except NotCompilable:
        return None

    def encode(record: Any) -> bytes:
        out = bytearray(prefix)
        try:
            write(out, record)
        except (AttributeError, TypeError) as exc:  # e.g. a number where a string belongs
            raise ValueError(f"record does not match the Avro schema: {exc}") from exc
        return bytes(out)

    return encode


class _Compiler:
    def __init__(self, accelerated: Any = None) -> None:
        self.named: dict[str, Writer] = {}
        #: ``bus._speedups`` when built: flat records of a dict are written by its C loop.
        self.accelerated = accelerated

    def writer(self, schema: Any, namespace: str) -> Writer:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _primitive(schema)
            return self._reference(schema, namespace)
        if isinstance(schema, list):
            return self._union(schema, namespace)
        if not isinstance(schema, Mapping):
            raise NotCompilable(f"not a schema: {schema!r}")
        if "logicalType" in schema:
            raise NotCompilable(f"logical type {schema['logicalType']!r}")
        kind = schema.get("type")
        if kind in _PRIMITIVES:
            return _primitive(str(kind))
        if kind == "record" or kind == "error":
            return self._record(schema, namespace)
        if kind == "enum":
            name = self._define(schema, namespace)
            return self._register(name, _enum(tuple(schema["symbols"])))
        if kind == "fixed":
            name = self._define(schema, namespace)
            return self._register(name, _fixed(int(schema["size"])))
        if kind == "array":
            return _array(self.writer(schema["items"], namespace))
        if kind == "map":
            return _map(self.writer(schema["values"], namespace))
        if isinstance(kind, str | list | Mapping):
            return self.writer(kind, namespace)
        raise NotCompilable(f"unknown type {kind!r}")

    def _define(self, schema: Mapping[str, Any], namespace: str) -> str:
        return _full_name(str(schema["name"]), str(schema.get("namespace", namespace)))

    def _register(self, name: str, writer: Writer) -> Writer:
        if name in self.named:
            raise NotCompilable(f"{name} is defined twice")
        self.named[name] = writer
        return writer

    def _reference(self, name: str, namespace: str) -> Writer:
        for candidate in (_full_name(name, namespace), name):
            if candidate in self.named:
                return self.named[candidate]
        raise NotCompilable(f"unknown Avro type {name!r}")

    def _record(self, schema: Mapping[str, Any], namespace: str) -> Writer:
        """A record writer generated as straight-line Python: one statement group per field."""
        name = self._define(schema, namespace)
        inner = name.rpartition(".")[0]
        compiled: list[Writer] = []  # filled below; a self-reference goes through it
        self._register(name, lambda out, datum: compiled[0](out, datum))
        scope: dict[str, Any] = {"S": _SMALL, "V": _varint}
        body = ["def write_record(out, datum):"]
        flats = [_flat(field["type"]) for field in schema["fields"]]
        kinds = [_FLAT_KINDS[flat] for flat in flats if flat is not None]
        if self.accelerated is not None and len(kinds) == len(flats):
            # The same bytes from C for a plain dict; anything else takes the Python below.
            scope.update(F=self.accelerated.write_fields, K=bytes(kinds), DS=tuple(
                field.get("default") for field in schema["fields"]), NS=tuple(
                str(field["name"]) for field in schema["fields"]))
            body += ["    if type(datum) is dict:", "        return F(out, datum, NS, K, DS)"]
        body.append("    get = datum.get")
        for i, field in enumerate(schema["fields"]):
            scope[f"D{i}"] = field.get("default")  # a missing field is written as its default
            body.append(f"    v = get({str(field['name'])!r}, D{i})")
            shape = _shape(field["type"])
            if shape is None:
                scope[f"W{i}"] = self.writer(field["type"], inner)
                body.append(f"    W{i}(out, v)")
            else:
                body.extend(_INLINE[shape])
        exec("\n".join(body), scope)  # names enter the source only through repr()
        write_record: Writer = scope["write_record"]
        compiled.append(write_record)
        return write_record

    def _union(self, branches: list[Any], namespace: str) -> Writer:
        kinds = [b if isinstance(b, str) else b.get("type") if isinstance(b, Mapping) else None
                 for b in branches]
        if len(branches) != 2 or kinds.count("null") != 1:
            raise NotCompilable("only unions of null and one other type are compiled")
        null_index = kinds.index("null")
        other = self.writer(branches[1 - null_index], namespace)
        null_tag, other_tag = _SMALL[null_index], _SMALL[1 - null_index]

        def write_optional(out: bytearray, datum: Any) -> None:
            if datum is None:
                out += null_tag
            else:
                out += other_tag
                other(out, datum)

        return write_optional


def _shape(schema: Any) -> str | None:
    """``string`` or ``optional string`` for the field types written inline, else None."""
    if schema == "string" or schema == {"type": "string"}:
        return "string"
    if isinstance(schema, list) and len(schema) == 2 and "string" in schema and "null" in schema:
        return "null|string" if schema[0] == "null" else "string|null"
    return None


#: Field types the C loop writes (``bus/_speedups.c``: K_STRING ... K_INT).
_FLAT_KINDS = {"string": 0, "null|string": 1, "string|null": 2, "boolean": 3, "long": 4, "int": 5}


def _flat(schema: Any) -> str | None:
    """:func:`_shape`, or the primitive ``boolean``, ``long`` or ``int``; else None."""
    if isinstance(schema, Mapping) and set(schema) == {"type"}:
        schema = schema["type"]
    if schema in ("boolean", "long", "int"):
        return str(schema)
    return _shape(schema)


_STRING = ["    b = v.encode()", "    n = len(b)", "    out += S[n] if n < 4096 else V(n)",
           "    out += b"]
_INLINE = {
    "string": _STRING,
    "null|string": ["    if v is None:", "        out += b'\\x00'", "    else:",
                    "        out += b'\\x02'", *("    " + line for line in _STRING)],
    "string|null": ["    if v is None:", "        out += b'\\x02'", "    else:",
                    "        out += b'\\x00'", *("    " + line for line in _STRING)],
}


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _primitive(kind: str) -> Writer:
    return _PRIMITIVE_WRITERS[kind]


def _write_null(out: bytearray, datum: Any) -> None:
    if datum is not None:
        raise ValueError(f"null expected, not {type(datum).__name__}")


def _write_boolean(out: bytearray, datum: Any) -> None:
    if datum is True:
        out += b"\x01"
    elif datum is False:
        out += b"\x00"
    else:
        raise ValueError(f"boolean expected, not {type(datum).__name__}")


def _integer(low: int, high: int, kind: str) -> Writer:
    def write_integer(out: bytearray, datum: Any) -> None:
        if not isinstance(datum, int) or not low <= datum <= high:
            raise ValueError(f"{kind} expected, not {datum!r}")
        out += _SMALL[datum] if 0 <= datum < 4096 else _varint(datum)

    return write_integer


def _real(packer: struct.Struct, kind: str) -> Writer:
    pack = packer.pack

    def write_real(out: bytearray, datum: Any) -> None:
        if not isinstance(datum, float | int) or isinstance(datum, bool):
            raise ValueError(f"{kind} expected, not {type(datum).__name__}")
        out += pack(datum)

    return write_real


def _write_bytes(out: bytearray, datum: Any) -> None:
    if not isinstance(datum, bytes | bytearray | memoryview):
        raise ValueError(f"bytes expected, not {type(datum).__name__}")
    data = bytes(datum)
    out += _long_bytes(len(data))
    out += data


def _write_string(out: bytearray, datum: Any) -> None:
    if not isinstance(datum, str):
        raise ValueError(f"string expected, not {type(datum).__name__}")
    data = datum.encode()
    size = len(data)
    out += _SMALL[size] if size < 4096 else _varint(size)
    out += data


_PRIMITIVE_WRITERS: dict[str, Writer] = {
    "null": _write_null,
    "boolean": _write_boolean,
    "int": _integer(*_INT_RANGE, "int"),
    "long": _integer(*_LONG_RANGE, "long"),
    "float": _real(_FLOAT, "float"),
    "double": _real(_DOUBLE, "double"),
    "bytes": _write_bytes,
    "string": _write_string,
}


def _enum(symbols: tuple[str, ...]) -> Writer:
    index = {symbol: _long_bytes(i) for i, symbol in enumerate(symbols)}

    def write_enum(out: bytearray, datum: Any) -> None:
        try:
            out += index[datum]
        except (KeyError, TypeError):
            raise ValueError(f"{datum!r} is not one of the symbols {symbols}") from None

    return write_enum


def _fixed(size: int) -> Writer:
    def write_fixed(out: bytearray, datum: Any) -> None:
        if not isinstance(datum, bytes | bytearray) or len(datum) != size:
            raise ValueError(f"fixed of {size} bytes expected, not {datum!r}")
        out += datum

    return write_fixed


def _array(items: Writer) -> Writer:
    def write_array(out: bytearray, datum: Any) -> None:
        if isinstance(datum, str | bytes | Mapping):
            raise ValueError(f"array expected, not {type(datum).__name__}")
        values = list(datum)
        if values:
            out += _long_bytes(len(values))
            for value in values:
                items(out, value)
        out += b"\x00"

    return write_array


def _map(values: Writer) -> Writer:
    def write_map(out: bytearray, datum: Any) -> None:
        if not isinstance(datum, Mapping):
            raise ValueError(f"map expected, not {type(datum).__name__}")
        if datum:
            out += _long_bytes(len(datum))
            for key, value in datum.items():
                _write_string(out, key)
                values(out, value)
        out += b"\x00"

    return write_map
