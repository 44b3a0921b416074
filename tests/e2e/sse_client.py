"""A deliberately small SSE reader for taskloom's streams (docs/events.md), used by the API and
e2e tests alike: blocks separated by blank lines, an `id:` line and one `data:` line each.

It is strict on purpose: a block without an integer `id`, without exactly one `data` line, or
with an `event:` field is an error, not something to skip. Every read is bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

TERMINAL = frozenset({"completed", "error", "failed", "stopped"})
ENVELOPE_KEYS = {"type", "task_id", "organization_id", "time", "data"}


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    task_id: str
    organization_id: str
    time: str
    data: Any
    envelope: dict[str, Any]


def parse_block(lines: list[str]) -> Event:
    """One SSE block (its lines, without the blank separator) as an Event."""
    ids = [line[len("id:") :].strip() for line in lines if line.startswith("id:")]
    datas = [line[len("data:") :].lstrip(" ") for line in lines if line.startswith("data:")]
    others = [line for line in lines if not line.startswith(("id:", "data:", ":"))]
    assert not others, f"unexpected SSE fields {others!r} in block {lines!r}"
    assert len(ids) == 1, f"expected one id line in block {lines!r}"
    assert ids[0].isdecimal(), f"non-integer id in block {lines!r}"
    assert ids[0].isascii(), f"non-ASCII id in block {lines!r}"
    assert len(datas) == 1, f"expected one data line in block {lines!r}"
    envelope = json.loads(datas[0])
    assert isinstance(envelope, dict), envelope
    missing = ENVELOPE_KEYS - envelope.keys()
    assert not missing, f"envelope misses {missing}: {envelope}"
    return Event(
        id=int(ids[0]),
        type=envelope["type"],
        task_id=envelope["task_id"],
        organization_id=envelope["organization_id"],
        time=envelope["time"],
        data=envelope["data"],
        envelope=envelope,
    )


async def iter_events(response: httpx.Response) -> AsyncIterator[Event]:
    """Events of an open streaming response, as complete blocks arrive. A block the peer
    did not finish (the connection dropped mid-event) is dropped, as the SSE spec says."""
    block: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if block and not all(part.startswith(":") for part in block):
                yield parse_block(block)
            block = []
        else:
            block.append(line)


@dataclass
class Stream:
    """What one SSE request gave: its status, headers and the events read."""

    status_code: int
    headers: httpx.Headers
    events: list[Event]
    closed_by_server: bool  # the server ended the response (vs. we stopped reading / it broke)
    broken: bool = False  # the connection failed mid-stream (server killed)
    body: str = ""  # the body of a non-200 answer

    @property
    def ids(self) -> list[int]:
        return [event.id for event in self.events]

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]


async def read_stream(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json_body: Any = None,
    limit: int | None = None,
    within_s: float = 30.0,
    tolerate_break: bool = False,
) -> Stream:
    """Open `url` as a stream and read events until the server closes it, or until `limit`
    events were read (then the client hangs up: a cut stream). Fails past `within_s`."""
    events: list[Event] = []
    async with client.stream(method, url, headers=dict(headers), json=json_body) as response:
        if response.status_code != 200:
            await response.aread()
            return Stream(response.status_code, response.headers, [], True, body=response.text)
        try:
            async with _deadline(within_s, url, events):
                async for event in iter_events(response):
                    events.append(event)
                    if limit is not None and len(events) >= limit:
                        return Stream(response.status_code, response.headers, events, False)
        except httpx.TransportError:
            if not tolerate_break:
                raise
            return Stream(response.status_code, response.headers, events, False, broken=True)
        return Stream(response.status_code, response.headers, events, True)


@contextlib.asynccontextmanager
async def _deadline(within_s: float, url: str, events: list[Event]) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(within_s):
            yield
    except TimeoutError as exc:
        got = [(event.id, event.type) for event in events]
        raise AssertionError(
            f"stream {url} did not end within {within_s} s; events so far: {got}"
        ) from exc


def gaps(events: list[Event], *, first: int) -> list[str]:
    """Problems with the ids of `events` if they should run first, first+1, ... without a gap."""
    want = list(range(first, first + len(events)))
    got = [event.id for event in events]
    return [] if got == want else [f"ids {got}, expected {want}"]
