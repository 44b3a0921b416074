"""`TASKLOOM_LOG_FORMAT=json`: one JSON object a line, carrying the ids code logs with."""

from __future__ import annotations

import json
import logging
import sys

from taskloom.logs import JsonLines


def test_json_lines_carry_the_extra_ids() -> None:
    record = logging.LogRecord(
        "taskloom.engine", logging.INFO, __file__, 1, "task %s", ("x",), None
    )
    record.__dict__.update({"event": "task_claimed", "task_id": "t1", "organization_id": "o1"})

    line = json.loads(JsonLines().format(record))

    assert line["message"] == "task x"
    assert line["level"] == "info"
    assert line["logger"] == "taskloom.engine"
    assert (line["event"], line["task_id"], line["organization_id"]) == ("task_claimed", "t1", "o1")
    assert "args" not in line  # the record's own fields stay out
    assert "msg" not in line


def test_json_lines_keep_the_traceback() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = json.loads(JsonLines().format(record))
    assert "ValueError: bad" in line["exception"]
