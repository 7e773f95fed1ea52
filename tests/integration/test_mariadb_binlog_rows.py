"""Binlog row images read in C are what mysql-replication reads, turned into text, on a real
server's binlog: every supported column type, NULLs, extremes, zero dates, GBK and binary
strings, inserts, updates and deletes."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from adapters.capture.engines.mariadb import MariaDbSettings, _python_images
from adapters.capture.engines.mariadb_binlog_rows import BinlogImages
from bus.speedups import pure_python, speedups
from tests.servers.mariadb import MariaDbServer, running_mariadb

pytestmark = pytest.mark.integration

#: (column, SQL type, value generator) for every kind the C reader knows.
COLUMNS: list[tuple[str, str]] = [
    ("i8", "TINYINT"), ("u8", "TINYINT UNSIGNED"), ("i16", "SMALLINT"),
    ("u16", "SMALLINT UNSIGNED"), ("i24", "MEDIUMINT"), ("u24", "MEDIUMINT UNSIGNED"),
    ("i32", "INT"), ("u32", "INT UNSIGNED"), ("i64", "BIGINT"), ("u64", "BIGINT UNSIGNED"),
    ("yr", "YEAR"), ("f32", "FLOAT"), ("f64", "DOUBLE"),
    ("d10_2", "DECIMAL(10,2)"), ("d30_10", "DECIMAL(30,10)"), ("d5_5", "DECIMAL(5,5)"),
    ("d20_0", "DECIMAL(20,0)"), ("d12_9", "DECIMAL(12,9)"), ("d65_30", "DECIMAL(65,30)"),
    ("c10", "CHAR(10)"), ("v300", "VARCHAR(300)"), ("vgbk", "VARCHAR(20) CHARACTER SET gbk"),
    ("vlatin", "VARCHAR(20) CHARACTER SET latin1"), ("txt", "TEXT"), ("ltxt", "LONGTEXT"),
    ("vbin", "VARBINARY(20)"), ("blb", "BLOB"),
    ("dt", "DATE"), ("dtm", "DATETIME"), ("dtm3", "DATETIME(3)"), ("dtm6", "DATETIME(6)"),
    ("dtm1", "DATETIME(1)"), ("ts", "TIMESTAMP NULL"), ("ts1", "TIMESTAMP(1) NULL"),
    ("ts6", "TIMESTAMP(6) NULL"), ("en", "ENUM('甲','b','c d')"),
]

_LIMITS = {"i8": (-128, 127), "u8": (0, 255), "i16": (-32768, 32767), "u16": (0, 65535),
           "i24": (-8388608, 8388607), "u24": (0, 16777215),
           "i32": (-2147483648, 2147483647), "u32": (0, 4294967295),
           "i64": (-9223372036854775808, 9223372036854775807), "u64": (0, 18446744073709551615)}


def _decimal(rng: random.Random, precision: int, scale: int) -> Decimal:
    digits = rng.choice([1, 2, precision, rng.randint(1, precision)])
    value = rng.randint(0, 10 ** digits - 1)
    if rng.random() < 0.3:
        value = rng.choice([0, 1, 10 ** precision - 1])
    sign = -1 if rng.random() < 0.4 else 1
    return Decimal(sign * value).scaleb(-scale)


def _text(rng: random.Random, alphabet: str, longest: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def value_for(rng: random.Random, column: str) -> Any:
    if rng.random() < 0.12:
        return None
    if column in _LIMITS:
        low, high = _LIMITS[column]
        return rng.choice([low, high, 0, rng.randint(low, high), rng.randint(-5, 5)
                           if low < 0 else rng.randint(0, 9)])
    if column == "yr":
        return rng.choice([1901, 2155, 2000, rng.randint(1901, 2155)])
    if column in ("f32", "f64"):
        return rng.choice([0.0, 1.1, -3.5e-7, 1e30, rng.uniform(-1e6, 1e6), 123456.789])
    if column.startswith("d") and "_" in column:
        precision, scale = (int(p) for p in column[1:].split("_"))
        return _decimal(rng, precision, scale)
    if column == "c10":
        return _text(rng, "ab 名字", 10).rstrip()
    if column in ("v300", "txt", "ltxt"):
        return _text(rng, "abc 中文名字地址😀é\\'\"", 300 if column == "v300" else 40)
    if column == "vgbk":
        return _text(rng, "张王李赵路号abc", 20)
    if column == "vlatin":
        return _text(rng, "abcéüß€", 20)
    if column in ("vbin", "blb"):
        return rng.choice([b"", b"\xff\xfe\x00", "名".encode("gbk"), "名".encode(),
                           bytes(rng.randrange(256) for _ in range(rng.randint(0, 16)))])
    if column == "dt":
        return rng.choice(["0000-00-00", "2024-00-15", "1000-01-01", "9999-12-31", "2024-02-29",
                           f"{rng.randint(1000, 9999)}-{rng.randint(1, 12):02d}-"
                           f"{rng.randint(1, 28):02d}"])
    if column.startswith("dtm"):
        return rng.choice(["0000-00-00 00:00:00", "2024-02-29 23:59:59.999999",
                           "1000-01-01 00:00:00.5", "2024-06-01 08:00:00.000001",
                           datetime.datetime(2000, 1, 1) + datetime.timedelta(
                               seconds=rng.randint(0, 10 ** 9), microseconds=rng.randint(0, 10 ** 6))])
    if column.startswith("ts"):
        return rng.choice(["1970-01-01 00:00:01", "2038-01-19 03:14:07.999999",
                           "2024-02-29 12:00:00.1", datetime.datetime(2001, 1, 1) +
                           datetime.timedelta(seconds=rng.randint(0, 10 ** 9),
                                              microseconds=rng.randint(0, 10 ** 6))])
    if column == "en":
        return rng.choice(["甲", "b", "c d", ""])
    raise AssertionError(column)


@pytest.fixture(scope="module")
def server() -> Iterator[MariaDbServer]:
    with running_mariadb() as started:
        started.execute("SET GLOBAL sql_mode = ''", "SET GLOBAL time_zone = '+00:00'")
        yield started


def binlog_events(server: MariaDbServer, start: tuple[str, int], tables: set[str]
                  ) -> tuple[list[Any], BinLogStreamReader]:
    settings = MariaDbSettings(**server.connection_settings())
    reader = BinLogStreamReader(
        connection_settings=settings.pymysql_kwargs(with_database=False),
        server_id=4242, blocking=False, resume_stream=True, log_file=start[0], log_pos=start[1],
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
        only_schemas=[server.database], only_tables=sorted(tables))
    return list(iter(reader.fetchone, None)), reader


def master_position(server: MariaDbServer) -> tuple[str, int]:
    file, pos, *_ = server.query("SHOW MASTER STATUS")[0]
    return str(file), int(pos)


def compare(server: MariaDbServer, start: tuple[str, int], tables: set[str]
            ) -> tuple[int, int, int]:
    """Rows compared, events the C reader left to Python, images with undecodable columns."""
    events, reader = binlog_events(server, start, tables)
    compared = left = undecodable = 0
    images = BinlogImages()
    try:
        for event in events:
            fast = images.images(event)  # reads the bytes without consuming them
            slow = _python_images(event)
            if fast is None:
                left += 1
                continue
            assert fast == slow, f"{type(event).__name__} of {event.table}"
            compared += len(fast)
            undecodable += sum(1 for row in fast for image in row if image[1])
    finally:
        reader.close()
    return compared, left, undecodable


@pytest.mark.skipif(speedups() is None, reason="the C speedups are not built")
def test_every_supported_type_reads_as_mysql_replication_does(server: MariaDbServer) -> None:
    definitions = ", ".join(f"{name} {sql}" for name, sql in COLUMNS)
    server.execute(f"CREATE TABLE wide (id INT PRIMARY KEY, {definitions}) DEFAULT CHARSET utf8mb4")
    start = master_position(server)
    rng = random.Random(20261128)
    names = [name for name, _sql in COLUMNS]
    marks = ", ".join(["%s"] * (len(names) + 1))
    with server.transaction() as cursor:
        cursor.executemany(f"INSERT INTO wide (id, {', '.join(names)}) VALUES ({marks})",
                           [(i, *(value_for(rng, n) for n in names)) for i in range(1, 401)])
    with server.transaction() as cursor:
        sets = ", ".join(f"{n} = %s" for n in names)
        for i in range(1, 401, 3):
            cursor.execute(f"UPDATE wide SET {sets} WHERE id = %s",
                           (*(value_for(rng, n) for n in names), i))
    with server.transaction() as cursor:
        cursor.execute("DELETE FROM wide WHERE id % 5 = 0")
    compared, left, undecodable = compare(server, start, {"wide"})
    assert left == 0
    assert compared == 400 + len(range(1, 401, 3)) + 80
    assert undecodable > 0  # binary values that are neither UTF-8 nor GB18030


@pytest.mark.skipif(speedups() is None, reason="the C speedups are not built")
def test_tables_with_other_types_are_read_in_python(server: MariaDbServer) -> None:
    server.execute("CREATE TABLE other (id INT PRIMARY KEY, t TIME, s SET('a','b'), b BIT(3))")
    start = master_position(server)
    server.execute("INSERT INTO other VALUES (1, '-12:30:00', 'a,b', b'101')")
    assert compare(server, start, {"other"}) == (0, 1, 0)


def test_without_the_extension_every_event_is_read_in_python(server: MariaDbServer) -> None:
    server.execute("CREATE TABLE plain (id INT PRIMARY KEY, name VARCHAR(10))")
    start = master_position(server)
    server.execute("INSERT INTO plain VALUES (1, 'x'), (2, NULL)")
    with pure_python():
        assert compare(server, start, {"plain"}) == (0, 1, 0)
