"""A minimal keep-alive HTTP/1.1 GET client on asyncio streams, for the driver-ceiling figures.

httpx costs the driver several hundred microseconds of CPU per request, so on a two-core box
a GET-heavy workload can be limited by the driver rather than the server. The same GET loops
run once more through this client (tens of microseconds per request) to show which it is.
It only speaks what uvicorn answers to a GET: a status line, headers, a Content-Length body.

`post_stream` is its streaming twin for the stream benchmark: one POST on its own connection,
the body read as it arrives (chunked, Content-Length or close-delimited), each piece stamped
with the wall clock at the moment it was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping

_MAX_HEAD = 65_536


class RawHttpError(Exception):
    """The connection broke or the answer was not a plain Content-Length response."""


class RawConnection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._head = head

    @classmethod
    async def open(cls, host: str, port: int, headers: Mapping[str, str]) -> RawConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return cls(reader, writer, f"Host: {host}:{port}\r\n{extra}\r\n".encode())

    async def get(self, path: str, timeout_s: float = 30.0) -> tuple[int, bytes]:
        """(status code, body) of one GET on this connection."""
        self._writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._head)
        try:
            async with asyncio.timeout(timeout_s):
                await self._writer.drain()
                head = await self._reader.readuntil(b"\r\n\r\n")
                status, length = _parse_head(head)
                body = await self._reader.readexactly(length)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise RawHttpError(f"{type(exc).__name__}: {exc}") from exc
        except asyncio.LimitOverrunError as exc:
            raise RawHttpError("response head too large") from exc
        return status, body

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), 5)


def _parse_head(head: bytes) -> tuple[int, int]:
    status, headers = _status_and_headers(head)
    if "content-length" in headers:
        return status, _length(headers["content-length"])
    raise RawHttpError("response without Content-Length")


def _status_and_headers(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head[: min(len(head), _MAX_HEAD)].split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise RawHttpError(f"bad status line {lines[0]!r}") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return status, headers


def _length(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise RawHttpError(f"bad Content-Length {value!r}") from exc


class RawStream:
    """A response read as it arrives, on a connection of its own (closed by `close`)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        headers: Mapping[str, str],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.status = status
        self.headers = headers

    async def pieces(self) -> AsyncIterator[tuple[bytes, float]]:
        """The body as it arrives: (bytes, time.time() right after they were read)."""
        try:
            if "chunked" in self.headers.get("transfer-encoding", "").lower():
                while True:
                    line = await self._reader.readuntil(b"\r\n")
                    size = int(line.split(b";", 1)[0].strip(), 16)
                    if size == 0:
                        return
                    data = await self._reader.readexactly(size + 2)
                    yield data[:-2], time.time()
            elif "content-length" in self.headers:
                remaining = _length(self.headers["content-length"])
                while remaining > 0:
                    data = await self._reader.read(min(remaining, 65_536))
                    if not data:
                        raise RawHttpError("connection closed inside the body")
                    remaining -= len(data)
                    yield data, time.time()
            else:
                while data := await self._reader.read(65_536):
                    yield data, time.time()
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            raise RawHttpError(f"{type(exc).__name__}: {exc}") from exc
        except asyncio.LimitOverrunError as exc:
            raise RawHttpError("chunk size line too long") from exc

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), 5)


async def post_stream(
    host: str,
    port: int,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout_s: float = 60.0,
) -> RawStream:
    """POST `body` on a new connection; returns once the response head is in."""
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                )
                writer.write(head.encode() + body)
                await writer.drain()
                status, response_headers = _status_and_headers(await reader.readuntil(b"\r\n\r\n"))
            except BaseException:
                writer.close()
                raise
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        raise RawHttpError(f"{type(exc).__name__}: {exc}") from exc
    except asyncio.LimitOverrunError as exc:
        raise RawHttpError("response head too large") from exc
    return RawStream(reader, writer, status, response_headers)
