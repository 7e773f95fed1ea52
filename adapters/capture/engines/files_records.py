"""Bytes of a dropped file → records: CSV or fixed-width, in GBK, GB18030 or UTF-8.

Lines are split on raw bytes (``\\n`` never occurs inside a GBK, GB18030 or UTF-8 character),
then each line is decoded on its own, so one bad line never spoils its neighbours. CSV lines
are decoded *before* they are split on the delimiter (a GBK trail byte may equal ``|``);
fixed-width lines are sliced in *bytes* and each field is decoded alone.

A line that cannot be decoded, a CSV line with the wrong number of fields and a fixed-width
line of the wrong byte length become a :class:`Record` whose ``undecodable`` names the bad
columns (or ``__line__``) and whose row keeps the raw text under ``__line__``, escaped with
``backslashreplace``; nothing is skipped except empty lines.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, NamedTuple

from adapters.capture.engines.files_options import FileDropOptions
from adapters.capture.source import Row
from bus.speedups import speedups

#: Pseudo-column holding the raw text of a line that could not be read as a record.
LINE_COLUMN = "__line__"
_PADDING = " \t\u3000"
_BLANK_BYTES = b" \t\r\n\x0b\x0c"
#: Lines decoded with one call (then split again): the codec's per-call cost, once per chunk.
_DECODE_CHUNK = 256


class Record(NamedTuple):
    """One data line of a file; ``number`` counts data lines from 1 (no header, no blanks).

    A named tuple, not a frozen dataclass: a file makes one per line and this is built in a
    fraction of the time."""

    number: int
    row: Row
    undecodable: tuple[str, ...] = ()

    def key_readable(self, key_columns: Sequence[str]) -> bool:
        """Whether the key of this record can be trusted."""
        if not self.undecodable:
            return True
        bad = set(self.undecodable)
        return LINE_COLUMN not in bad and not bad.intersection(key_columns)


def codec_for(encoding: str, is_utf8: bool) -> str:
    """The Python codec for a configured encoding; ``auto`` picks by the file's content."""
    if encoding == "auto":
        return "utf-8-sig" if is_utf8 else "gb18030"
    return "utf-8-sig" if encoding == "utf-8" else encoding


def data_lines(stream: Iterable[bytes]) -> Iterator[bytes]:
    """Non-blank lines without line ends; a UTF-8 BOM at the start of the file is dropped."""
    first = True
    for raw in stream:
        line = raw.rstrip(b"\r\n")
        if first:
            line = line.removeprefix(codecs.BOM_UTF8)
            first = False
        if line.strip(_BLANK_BYTES):
            yield line


def open_records(
    stream: BinaryIO, options: FileDropOptions, codec: str,
) -> tuple[tuple[str, ...], Iterator[Record]]:
    """The file's columns and an iterator over its records (the header is consumed here)."""
    lines = data_lines(stream)
    if options.format == "fixed_width":
        return options.configured_columns, _fixed_records(lines, options, codec)
    columns = options.columns
    if options.header:
        header = next(lines, None)
        columns = () if header is None else _header(header, options.delimiter, codec)
    return columns, _csv_records(lines, columns, options.delimiter, codec)


def _header(line: bytes, delimiter: str, codec: str) -> tuple[str, ...]:
    text = line.decode(codec, errors="backslashreplace")
    return tuple(name.strip(_PADDING) for name in _split(text, delimiter) or [])


#: No field of a line this short can exceed the csv module's field limit (an error there).
_FIELD_LIMIT = csv.field_size_limit()


def _split(text: str, delimiter: str) -> list[str] | None:
    if '"' not in text and "\r" not in text and len(text) <= _FIELD_LIMIT:
        # Nothing the csv module would treat specially: its fields are the plain split.
        return text.split(delimiter)
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return None


def _csv_records(
    lines: Iterator[bytes], columns: Sequence[str], delimiter: str, codec: str,
) -> Iterator[Record]:
    # Each chunk's records as one list, so the records themselves are iterated in C.
    return itertools.chain.from_iterable(_csv_chunks(lines, tuple(columns), delimiter, codec))


def _csv_chunks(
    lines: Iterator[bytes], columns: tuple[str, ...], delimiter: str, codec: str,
) -> Iterator[list[Record]]:
    accelerated = speedups()
    number = 0
    while chunk := list(itertools.islice(lines, _DECODE_CHUNK)):
        texts = decoded_lines(chunk, codec)
        if texts is None or accelerated is None:
            records = [csv_record(number + at + 1, line, columns, delimiter, codec,
                                  None if texts is None else texts[at])
                       for at, line in enumerate(chunk)]
        else:  # the same records, those of lines the plain split reads built in C
            records = accelerated.csv_records(texts, columns, delimiter, _FIELD_LIMIT,
                                              number + 1, Record)
            for at, record in enumerate(records):
                if record is None:
                    records[at] = csv_record(number + at + 1, chunk[at], columns, delimiter,
                                             codec, texts[at])
        number += len(chunk)
        yield records


def decoded_lines(lines: Sequence[bytes], codec: str) -> list[str] | None:
    """Each line decoded as ``line.decode(codec)`` would, from one call; None if any line
    fails (they are then decoded one by one). ``\n`` is never part of a character in these
    encodings, so the joined text splits back into exactly the lines' texts."""
    sig = codec == "utf-8-sig"  # which drops a BOM at the start of every line decoded alone
    try:
        texts = b"\n".join(lines).decode("utf-8" if sig else codec).split("\n")
    except UnicodeDecodeError:
        return None
    if sig:
        texts = [text.removeprefix("\ufeff") for text in texts]
    return texts if len(texts) == len(lines) else None


def csv_record(number: int, line: bytes, columns: Sequence[str], delimiter: str, codec: str,
               text: str | None = None) -> Record:
    """The record of one line; ``text`` is the line decoded, if it already is."""
    if text is None:
        try:
            text = line.decode(codec)
        except UnicodeDecodeError:
            return bad_line(number, line, columns, codec)
    values = _split(text, delimiter)
    if values is None or len(values) != len(columns):
        return bad_line(number, line, columns, codec)
    return Record(number, {c: v or None for c, v in zip(columns, values, strict=True)})


def _fixed_records(lines: Iterator[bytes], options: FileDropOptions, codec: str) -> Iterator[Record]:
    for number, line in enumerate(lines, start=1):
        yield fixed_record(number, line, options, codec)


def fixed_record(number: int, line: bytes, options: FileDropOptions, codec: str) -> Record:
    columns = options.configured_columns
    if len(line) != options.line_length:
        return bad_line(number, line, columns, codec)
    row: Row = {}
    bad: list[str] = []
    for field in options.fields:
        chunk = line[field.start:field.end]
        try:
            value = chunk.decode(codec)
        except UnicodeDecodeError:
            value = chunk.decode(codec, errors="backslashreplace")
            bad.append(field.name)
        row[field.name] = value.strip(_PADDING) or None
    if bad:
        row[LINE_COLUMN] = line.decode(codec, errors="backslashreplace")
    return Record(number, row, tuple(bad))


def bad_line(number: int, line: bytes, columns: Sequence[str], codec: str) -> Record:
    """A line that is no record: every column empty, the raw text escaped under ``__line__``."""
    row: Row = dict.fromkeys(columns)
    row[LINE_COLUMN] = line.decode(codec, errors="backslashreplace")
    return Record(number, row, (LINE_COLUMN,))
