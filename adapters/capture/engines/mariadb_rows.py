"""A PyMySQL connection whose result rows are read in C (``bus/_speedups.c``).

PyMySQL reads every column of every row in Python (a length-coded string, a decode, a
converter); for a capture that is most of the time a MariaDB snapshot takes. This connection
reads buffered results' rows with ``mysql_text_row``, which does what
``MySQLResult._read_row_from_packet`` does, value for value
(``tests/unit/test_mariadb_rows.py``), and loops over the row packets without PyMySQL's
packet object and checks per row (an end, error or split packet still gets them); everything
else is PyMySQL's. The DATE, DATETIME and TIMESTAMP decoders of ``mariadb_times`` run in C
too, for the canonical forms the server sends.
Without the extension it is a plain PyMySQL connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql.connections
import pymysql.err
from pymysql.constants import CR
from pymysql.protocol import MysqlPacket

from adapters.capture.engines.mariadb_connection import MariaDbConnection
from adapters.capture.engines.mariadb_times import date_text, datetime_text
from bus.speedups import speedups

#: A packet this long continues in the next one (PyMySQL's ``MAX_PACKET_LEN``).
MAX_PACKET_LEN = 2 ** 24 - 1
#: Converters the C reader runs itself for canonical values (TIME_DATETIME, TIME_DATE in
#: bus/_speedups.c), handing the function only the other forms.
_IN_C = {datetime_text: 1, date_text: 2}


class _Result(pymysql.connections.MySQLResult):  # type: ignore[misc]
    connection: Any  # PyMySQL's; None once the result is read

    def __init__(self, connection: Any, read_row: Callable[[bytes, int, list[Any]], tuple[Any, ...]]
                 ) -> None:
        super().__init__(connection)
        self._read_row = read_row
        self._converters: list[Any] | None = None

    def _row_converters(self) -> list[Any]:
        if self._converters is None:
            self._converters = [(encoding, (_IN_C[converter], converter)
                                 if converter in _IN_C else converter)
                                for encoding, converter in self.converters]
        return self._converters

    def _read_row_from_packet(self, packet: Any) -> tuple[Any, ...]:
        return self._read_row(packet.get_all_data(), packet._position, self._row_converters())

    def _read_rowdata_packet(self) -> None:
        """PyMySQL's loop over a buffered result's row packets, without a packet object and
        four method calls per row: each row's payload goes straight to the C reader. The
        end of the rows, an error and a row split over packets are PyMySQL's own steps."""
        connection = self.connection
        read_bytes, read_row, converters = connection._read_bytes, self._read_row, \
            self._row_converters()
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        while True:
            header = read_bytes(4)
            length = header[0] | header[1] << 8 | header[2] << 16
            if header[3] != connection._next_seq_id or length == MAX_PACKET_LEN:
                packet = _rest_of_packet(connection, header)  # as _read_packet does it
            else:
                connection._next_seq_id = (header[3] + 1) % 256
                payload = read_bytes(length)
                if payload and payload[0] < 0xFE:  # a row: no end, error or 8-byte length
                    append(read_row(payload, 0, converters))
                    continue
                packet = _checked(connection, MysqlPacket(payload, connection.encoding))
            if self._check_packet_is_eof(packet):
                self.connection = None  # release reference to kill cyclic reference.
                break
            append(self._read_row_from_packet(packet))
        self.affected_rows = len(rows)
        self.rows = tuple(rows)


def _rest_of_packet(connection: Any, header: bytes) -> Any:
    """The packet whose first ``header`` was read, as PyMySQL's ``_read_packet`` reads it:
    the sequence number checked, a payload of 2^24 - 1 bytes continued in the next packet."""
    parts = []
    while True:
        if header[3] != connection._next_seq_id:
            connection._force_close()
            if header[3] == 0:  # MariaDB's error packet when it shuts down
                raise pymysql.err.OperationalError(
                    CR.CR_SERVER_LOST, "Lost connection to MySQL server during query")
            raise pymysql.err.InternalError(
                f"Packet sequence number wrong - got {header[3]} expected "
                f"{connection._next_seq_id}")
        connection._next_seq_id = (connection._next_seq_id + 1) % 256
        length = header[0] | header[1] << 8 | header[2] << 16
        parts.append(connection._read_bytes(length))
        if length < MAX_PACKET_LEN:
            return _checked(connection, MysqlPacket(b"".join(parts), connection.encoding))
        header = connection._read_bytes(4)


def _checked(connection: Any, packet: Any) -> Any:
    """``packet``, raising its error as PyMySQL's ``_read_packet`` does for an error packet."""
    if packet.is_error_packet():
        if connection._result is not None and connection._result.unbuffered_active is True:
            connection._result.unbuffered_active = False
        packet.raise_for_error()
    return packet


class CaptureConnection(MariaDbConnection):
    """``pymysql.connect`` for connections that only read what the capture publishes."""

    def _read_query_result(self, unbuffered: bool = False) -> Any:
        accelerated = speedups()
        if unbuffered or accelerated is None:
            return super()._read_query_result(unbuffered)
        # PyMySQL's own steps, with the result class that reads rows in C.
        self._result = None
        result = _Result(self, accelerated.mysql_text_row)
        result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows
