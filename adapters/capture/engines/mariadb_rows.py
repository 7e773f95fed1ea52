"""A PyMySQL connection whose result rows are read in C (``bus/_speedups.c``).

PyMySQL reads every column of every row in Python (a length-coded string, a decode, a
converter); for a capture that is most of the time a MariaDB snapshot takes. This connection
reads buffered results' rows with ``mysql_text_row``, which does what
``MySQLResult._read_row_from_packet`` does, value for value
(``tests/unit/test_mariadb_rows.py``); everything else is PyMySQL's. The DATE, DATETIME and
TIMESTAMP decoders of ``mariadb_times`` run in C too, for the canonical forms the server sends.
Without the extension it is a plain PyMySQL connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql.connections

from adapters.capture.engines.mariadb_times import date_text, datetime_text
from bus.speedups import speedups

#: Converters the C reader runs itself for canonical values (TIME_DATETIME, TIME_DATE in
#: bus/_speedups.c), handing the function only the other forms.
_IN_C = {datetime_text: 1, date_text: 2}


class _Result(pymysql.connections.MySQLResult):  # type: ignore[misc]
    def __init__(self, connection: Any, read_row: Callable[[bytes, int, list[Any]], tuple[Any, ...]]
                 ) -> None:
        super().__init__(connection)
        self._read_row = read_row
        self._converters: list[Any] | None = None

    def _read_row_from_packet(self, packet: Any) -> tuple[Any, ...]:
        if self._converters is None:
            self._converters = [(encoding, (_IN_C[converter], converter)
                                 if converter in _IN_C else converter)
                                for encoding, converter in self.converters]
        return self._read_row(packet.get_all_data(), packet._position, self._converters)


class CaptureConnection(pymysql.connections.Connection):  # type: ignore[misc]
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
