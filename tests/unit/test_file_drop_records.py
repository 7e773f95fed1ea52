"""Bytes of dropped files → records: encodings, CSV, fixed-width byte slicing, bad lines."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.capture.engines.files_options import FileDropOptions, parse_options
from adapters.capture.engines.files_records import (
    LINE_COLUMN,
    Record,
    _csv_records,
    bad_line,
    codec_for,
    csv_record,
    decoded_lines,
    fixed_record,
    open_records,
)
from adapters.capture.source import SourceMisconfigured, TableSpec
from bus.speedups import pure_python

FIELDS = [{"name": "DJBH", "start": 0, "width": 4}, {"name": "XM", "start": 4, "width": 8},
          {"name": "DJRQ", "start": 12, "width": 16}]


def options(**values: object) -> FileDropOptions:
    base: dict[str, object] = {"directory": "/tmp", "pattern": "*.txt"}
    base.update(values)
    return parse_options(TableSpec("minzheng", "hy_djxx", ("DJBH",), "diff", options=base))


def records(data: bytes, **values: object) -> tuple[tuple[str, ...], list[Record]]:
    opts = options(**values)
    codec = codec_for(opts.encoding, is_utf8=False)
    columns, found = open_records(io.BytesIO(data), opts, codec)
    return columns, list(found)


def test_a_gbk_csv_with_a_header_yields_its_columns_and_chinese_values() -> None:
    data = "DJBH,XM,DJRQ\r\nD001,王小明,1990年3月7日\r\n".encode("gbk")

    columns, found = records(data, encoding="gbk")

    assert columns == ("DJBH", "XM", "DJRQ")
    assert found == [Record(1, {"DJBH": "D001", "XM": "王小明", "DJRQ": "1990年3月7日"})]


def test_a_headerless_csv_uses_the_configured_columns_and_empty_fields_become_null() -> None:
    data = "D001\t𠀀小明\t\n".encode("gb18030")

    columns, found = records(data, encoding="gb18030", header=False, delimiter="\\t",
                             columns=["DJBH", "XM", "DJRQ"])

    assert columns == ("DJBH", "XM", "DJRQ")
    assert found[0].row == {"DJBH": "D001", "XM": "𠀀小明", "DJRQ": None}


def test_the_csv_delimiter_is_found_after_decoding_so_a_gbk_trail_byte_equal_to_it_is_no_split() -> None:
    name = "億万"  # the second byte of 億 in GBK is 0x7C, the '|' character
    assert "億".encode("gbk")[1:] == b"|"
    data = f"D001|{name}|1990年3月7日\n".encode("gbk")

    _, found = records(data, encoding="gbk", header=False, delimiter="|", columns=["DJBH", "XM", "DJRQ"])

    assert found[0].row["XM"] == name
    assert found[0].undecodable == ()


def test_fixed_width_fields_are_sliced_in_bytes_and_padding_incl_ideographic_space_is_stripped() -> None:
    line = b"D001" + "王小明".encode("gbk") + b"  " + "1990年3月7日\u3000\u3000".encode("gbk")
    assert len(line) == 28  # 王小明 is 6 bytes in GBK; the date 12 bytes plus two 2-byte U+3000

    _, found = records(line + b"\n", encoding="gbk", format="fixed_width", fields=FIELDS)

    assert found == [Record(1, {"DJBH": "D001", "XM": "王小明", "DJRQ": "1990年3月7日"})]


def test_a_fixed_width_line_of_the_wrong_byte_length_keeps_its_raw_text_as_undecodable() -> None:
    line = "D001王小明".encode("gbk")

    _, found = records(line, encoding="gbk", format="fixed_width", fields=FIELDS)

    assert found[0].undecodable == (LINE_COLUMN,)
    assert found[0].row[LINE_COLUMN] == "D001王小明"
    assert found[0].row["XM"] is None


def test_a_field_boundary_cutting_a_double_byte_character_names_that_field_undecodable() -> None:
    line = b"D001" + "王小明王".encode("gbk")[:8] + b" " * 16  # 8 bytes: the 4th char fits
    fields = [{"name": "DJBH", "start": 0, "width": 4}, {"name": "XM", "start": 4, "width": 7},
              {"name": "DJRQ", "start": 11, "width": 17}]

    _, found = records(line, encoding="gbk", format="fixed_width", fields=fields)

    assert found[0].undecodable == ("XM", "DJRQ")
    assert found[0].row["DJBH"] == "D001"
    assert found[0].row["XM"] == "王小明\\xcd"
    assert LINE_COLUMN in found[0].row


def test_an_undecodable_csv_line_keeps_its_raw_bytes_escaped_and_neighbours_are_unharmed() -> None:
    data = b"DJBH,XM\nD001," + "王".encode("gbk") + b"\nD002,\xff\xfe\n\n   \nD003,a,b\n"

    _, found = records(data, encoding="gbk")

    assert [r.number for r in found] == [1, 2, 3]
    assert found[0].undecodable == ()
    assert found[1].undecodable == (LINE_COLUMN,)
    assert found[1].row == {"DJBH": None, "XM": None, LINE_COLUMN: "D002,\\xff\\xfe"}
    assert found[2].undecodable == (LINE_COLUMN,)  # three fields for two columns
    assert found[2].row[LINE_COLUMN] == "D003,a,b"


@pytest.mark.parametrize("encoded", ["\ufeffDJBH,XM\nD001,王小明\n".encode(),
                                     "DJBH,XM\nD001,王小明\n".encode("gbk")])
def test_auto_encoding_reads_utf8_with_a_bom_and_gbk(encoded: bytes) -> None:
    opts = options(encoding="auto")
    is_utf8 = encoded.startswith(b"\xef\xbb\xbf")
    columns, found = open_records(io.BytesIO(encoded), opts,
                                  codec_for("auto", is_utf8))

    assert columns == ("DJBH", "XM")
    assert next(found).row == {"DJBH": "D001", "XM": "王小明"}


@pytest.mark.parametrize("bad", [
    {"format": "xml"}, {"encoding": "latin-1"}, {"format": "fixed_width"},
    {"header": False}, {"mode": "full"}, {"delimiter": ",,"},
    {"format": "fixed_width", "fields": [{"name": "DJBH", "start": -1, "width": 2}]},
])
def test_bad_options_are_refused_naming_the_option(bad: dict[str, object]) -> None:
    with pytest.raises(SourceMisconfigured, match=r"options\.|key_columns"):
        options(**bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from(["gbk", "gb18030", "utf-8-sig"]))
def test_arbitrary_bytes_in_a_line_always_become_a_record_never_an_exception(
    line: bytes, codec: str,
) -> None:
    line = line.replace(b"\n", b"")
    opts = options(format="fixed_width", fields=FIELDS)

    for record in (csv_record(1, line, ("DJBH", "XM"), ",", codec),
                   fixed_record(1, line, opts, codec)):
        if record.undecodable:
            assert record.row[LINE_COLUMN] == line.decode(codec, errors="backslashreplace")
        else:
            assert LINE_COLUMN not in record.row


def one_by_one(lines: list[bytes], columns: tuple[str, ...], delimiter: str,
               codec: str) -> list[Record]:
    """Each line decoded and split alone, by the csv module: what the fast paths must equal."""
    found = []
    for number, line in enumerate(lines, start=1):
        try:
            text = line.decode(codec)
            values = next(csv.reader([text], delimiter=delimiter), [])
        except (UnicodeDecodeError, csv.Error):
            found.append(bad_line(number, line, columns, codec))
            continue
        if len(values) != len(columns):
            found.append(bad_line(number, line, columns, codec))
        else:
            found.append(Record(number, {c: v if v != "" else None
                                         for c, v in zip(columns, values, strict=True)}))
    return found


_LINE_TEXT = st.text(alphabet=st.sampled_from(
    ['a', '1', ',', '|', '"', ' ', '\r', '\x00', '\ufeff', '王', '娜', '\u3000', '€']), max_size=14)


@settings(max_examples=300, deadline=None)
@example(texts=["a\rb,1,1", "a,1,1\r", "\r,,", '"a,1",1,1', 'a,"1"1,1', "a,\x00,1",
                "a" * 131_073 + ",1,1"], junk=[],
         codec="gbk", delimiter=",")
@given(texts=st.lists(_LINE_TEXT, min_size=1, max_size=12),
       junk=st.lists(st.binary(max_size=3).filter(lambda b: b"\n" not in b), max_size=12),
       codec=st.sampled_from(["gbk", "gb18030", "utf-8-sig"]), delimiter=st.sampled_from([",", "|"]))
def test_lines_decoded_together_and_split_fast_equal_each_line_read_alone_by_the_csv_module(
    texts: list[str], junk: list[bytes], codec: str, delimiter: str,
) -> None:
    # Valid lines, some with bytes that do not decode (or do, with another line's help).
    lines = [t.encode(codec, errors="ignore") + (junk[i] if i < len(junk) else b"")
             for i, t in enumerate(texts)]
    lines = [line for line in lines if line.strip(b" \t\r\x0b\x0c")]
    columns = ("A", "B", "C")

    found = list(_csv_records(iter(lines), columns, delimiter, codec))
    with pure_python():
        in_python = list(_csv_records(iter(lines), columns, delimiter, codec))

    assert found == in_python == one_by_one(lines, columns, delimiter, codec)
    assert {type(record) for record in found + in_python} <= {Record}  # not bare tuples


def test_records_are_numbered_across_chunks_and_their_odd_lines_read_in_python() -> None:
    lines = [f"{i},王{i},{i % 7 or ''}".encode("gbk") for i in range(1, 601)]
    for odd in (0, 255, 256, 257, 599):  # a quote, a CR, a missing field, at chunk edges
        lines[odd] = [b'"1,2",3,4', b"a\rb,1,2", b"only,two"][odd % 3]
    columns = ("A", "B", "C")

    found = list(_csv_records(iter(lines), columns, ",", "gbk"))

    assert found == one_by_one(lines, columns, ",", "gbk")
    assert [r.number for r in found] == list(range(1, 601))
    assert found[1] == Record(2, {"A": "2", "B": "王2", "C": "2"})
    assert found[6].row["C"] is None  # an empty field


def test_a_chunk_with_one_bad_line_is_decoded_line_by_line() -> None:
    lines = ["D001,王小明,x".encode("gbk"), b"D002,\xff\xfe,x", "D003,李娜,x".encode("gbk")]

    assert decoded_lines(lines, "gbk") is None
    assert [r.undecodable for r in _csv_records(iter(lines), ("DJBH", "XM", "DJRQ"), ",", "gbk")
            ] == [(), (LINE_COLUMN,), ()]
    assert decoded_lines(["\ufeffa".encode(), "\ufeff\ufeffb".encode()], "utf-8-sig") == [
        "a", "\ufeffb"]  # as each line alone: one BOM dropped per line
