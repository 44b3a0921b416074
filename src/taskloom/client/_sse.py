"""Reading a task's event stream: the SSE wire format, and the state that makes it resumable.

`EventFeed` is all the decisions and no I/O: it decodes lines into events, remembers the last
event id for `Last-Event-ID`, says whether a stream that ended should be reopened, and how
long to wait first. The clients only open connections and feed it lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from taskloom.client._errors import ServerError, StreamInterrupted, TransportError
from taskloom.client._models import Event


@dataclass
class Decoder:
    """Server-sent events, one line at a time (the `data:` / `id:` subset the API sends)."""

    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, e.g. a keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            return None
        envelope = json.loads("\n".join(self._data))
        self._data = []
        if self._id is not None and self._id.isdigit():
            envelope["id"] = int(self._id)
        return Event.model_validate(envelope)


@dataclass
class EventFeed:
    """One task's events across as many connections as it takes."""

    task_id: str
    last_id: int = 0  # the last event seen: the next connection resumes after it
    from_turn: int | None = None  # skip earlier turns' events (a new turn of a reused task)
    max_retries: int = 5  # failures in a row, without an event between them
    failures: int = 0
    finished: bool = False
    _decoder: Decoder = field(default_factory=Decoder)
    _in_turn: bool = False

    @property
    def path(self) -> str:
        return f"/v1/tasks/{self.task_id}/events"

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.last_id:
            headers["Last-Event-ID"] = str(self.last_id)
        return headers

    def connected(self) -> None:
        self._decoder = Decoder()  # a half-read event of a broken connection is dropped

    def feed(self, line: str) -> Event | None:
        event = self._decoder.feed(line)
        if event is None:
            return None
        if event.id is not None:
            self.last_id = event.id
        self.failures = 0
        self.finished = event.type == "task_finished"
        if self.from_turn is not None and not self._in_turn:
            task = event.task() if event.type == "task_created" else None
            if task is None or task.turn < self.from_turn:
                return None
            self._in_turn = True
        return event

    def retry_after(self, exc: Exception | None) -> float | None:
        """A connection closed, cleanly (`exc` None) or not: None when the stream is over,
        else the delay before reconnecting. The server closes a stream once the task is
        terminal with nothing newer, so a clean end right after `task_finished` is the end."""
        if exc is None and self.finished:
            return None
        self.failures += 1
        if self.failures > self.max_retries:
            raise StreamInterrupted(
                f"the events of task {self.task_id} failed {self.failures} times in a row "
                f"(last event {self.last_id})"
            ) from exc
        return (
            0.0 if exc is None and self.failures == 1 else min(0.2 * 2 ** (self.failures - 1), 5.0)
        )


# failures after which a stream is worth reopening (a server restarting, a dropped connection);
# anything else is raised as it is
RETRYABLE: tuple[type[Exception], ...] = (TransportError, ServerError)
