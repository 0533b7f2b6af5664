"""meshkit.logs: the lines of a service with several workers say which worker wrote them; a
service of one process writes exactly what it always did."""

from __future__ import annotations

import json
import logging

from meshkit.logs import JsonFormatter, PlainFormatter


def record() -> logging.LogRecord:
    return logging.makeLogRecord({"name": "scim.servicer", "levelname": "INFO", "msg": "hello"})


def test_a_workers_json_line_carries_its_index() -> None:
    line = json.loads(JsonFormatter("scim", 1).format(record()))
    assert (line["service"], line["worker"], line["message"]) == ("scim", 1, "hello")


def test_a_single_process_json_line_has_no_worker_field() -> None:
    assert "worker" not in json.loads(JsonFormatter("scim").format(record()))


def test_a_workers_plain_line_names_it_after_the_service() -> None:
    assert " scim[1] scim.servicer: hello" in PlainFormatter("scim", 1).format(record())
    assert " scim scim.servicer: hello" in PlainFormatter("scim").format(record())
