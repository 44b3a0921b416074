"""`TASKLOOM_LOG_FORMAT=json`: one JSON object a line, carrying the ids code logs with."""

from __future__ import annotations

import json
import logging
import sys

from taskloom.logs import JsonLines, TaskIds, TextLines, task_scope


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


def record_in(logger: str = "taskloom.llm.chat", **extra: str) -> logging.LogRecord:
    record = logging.LogRecord(
        logger, logging.WARNING, __file__, 1, "model call failed", None, None
    )
    record.__dict__.update(extra)
    return record


def test_task_ids_fill_a_record_logged_inside_a_task_scope() -> None:
    with task_scope("t1", "o1"):
        inside = record_in()
        assert TaskIds().filter(inside)
    outside = record_in()
    TaskIds().filter(outside)

    assert (inside.task_id, inside.organization_id) == ("t1", "o1")  # type: ignore[attr-defined]
    assert not hasattr(outside, "task_id")


def test_task_ids_leave_the_ids_a_record_names_itself() -> None:
    with task_scope("t1", "o1"):
        record = record_in(task_id="another")
        TaskIds().filter(record)
    assert (record.task_id, record.organization_id) == ("another", "o1")  # type: ignore[attr-defined]


def test_text_lines_show_a_task_records_ids_before_the_message() -> None:
    with task_scope("t1", "o1"):
        record = record_in()
        TaskIds().filter(record)
    assert (
        TextLines()
        .format(record)
        .endswith("WARNING taskloom.llm.chat [task=t1 org=o1] model call failed")
    )
    assert TextLines().format(record_in()).endswith("WARNING taskloom.llm.chat model call failed")
