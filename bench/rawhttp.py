"""A minimal keep-alive HTTP/1.1 GET client on asyncio streams, for the driver-ceiling figures.

httpx costs the driver several hundred microseconds of CPU per request, so on a two-core box
a GET-heavy workload can be limited by the driver rather than the server. The same GET loops
run once more through this client (tens of microseconds per request) to show which it is.
It only speaks what uvicorn answers to a GET: a status line, headers, a Content-Length body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

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
    lines = head[: min(len(head), _MAX_HEAD)].split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise RawHttpError(f"bad status line {lines[0]!r}") from exc
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value.strip())
    raise RawHttpError("response without Content-Length")
