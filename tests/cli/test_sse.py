"""The event feed's decisions, no I/O: SSE decoding, resumption and reconnect budget."""

from __future__ import annotations

import json

import pytest

from taskloom.client import StreamInterrupted, TransportError
from taskloom.client._sse import Decoder, EventFeed


def _lines(seq: int, type_: str, data: object) -> list[str]:
    envelope = {"type": type_, "task_id": "t", "data": data}
    return [f"id: {seq}", f"data: {json.dumps(envelope)}", ""]


def _task(turn: int, status: str = "pending") -> dict[str, object]:
    return {"id": "t", "agent_id": "w", "organization_id": "o", "status": status, "turn": turn}


def test_decoder_joins_data_lines_and_skips_comments() -> None:
    decoder = Decoder()
    lines = [": keep-alive", "id: 7", 'data: {"type": "chunk",', 'data: "data": "a"}', ""]
    events = [e for e in map(decoder.feed, lines) if e is not None]
    assert [(e.id, e.type, e.data) for e in events] == [(7, "chunk", "a")]


def test_feed_resumes_after_the_last_event() -> None:
    feed = EventFeed("t")
    assert "Last-Event-ID" not in feed.headers()
    for line in _lines(1, "task_created", _task(1)) + _lines(2, "chunk", "x"):
        feed.feed(line)
    assert feed.headers()["Last-Event-ID"] == "2"


def test_feed_ends_only_after_task_finished() -> None:
    feed = EventFeed("t")
    for line in _lines(1, "task_created", _task(1)):
        feed.feed(line)
    assert feed.retry_after(None) == 0.0  # a clean end mid-task: reconnect at once
    for line in _lines(2, "task_finished", _task(1, "completed")):
        feed.feed(line)
    assert feed.retry_after(None) is None


def test_feed_skips_earlier_turns() -> None:
    feed = EventFeed("t", from_turn=2)
    lines = (
        _lines(1, "task_created", _task(1))
        + _lines(2, "chunk", "old")
        + _lines(3, "task_finished", _task(1, "completed"))
        + _lines(4, "task_created", _task(2))
        + _lines(5, "chunk", "new")
    )
    events = [e for e in map(feed.feed, lines) if e is not None]
    assert [e.id for e in events] == [4, 5]
    assert not feed.finished


def test_feed_gives_up_after_its_budget__failures_in_a_row() -> None:
    feed = EventFeed("t", max_retries=2)
    broken = TransportError("reset")
    assert feed.retry_after(broken) == pytest.approx(0.2)
    assert feed.retry_after(broken) == pytest.approx(0.4)
    with pytest.raises(StreamInterrupted):
        feed.retry_after(broken)


def test_feed_budget_resets_on_progress() -> None:
    feed = EventFeed("t", max_retries=1)
    broken = TransportError("reset")
    feed.retry_after(broken)
    for line in _lines(1, "chunk", "x"):
        feed.feed(line)
    assert feed.retry_after(broken) == pytest.approx(0.2)
