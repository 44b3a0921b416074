"""Parent-side framing of the sandbox pipe: 4-byte big-endian length + UTF-8 JSON.

`child.py` cannot import this module (it runs without taskloom on its path), so it keeps a
minimal copy of the same framing; change both together.
"""

from __future__ import annotations

import asyncio
import json
import struct

HEADER = struct.Struct(">I")


class FrameTooLarge(Exception):
    """The peer announced a frame bigger than the reader allows."""

    def __init__(self, size: int) -> None:
        super().__init__(f"frame of {size} bytes")
        self.size = size


def encode_frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader, max_size: int) -> object:
    """Read one frame; raises IncompleteReadError on EOF and FrameTooLarge past `max_size`."""
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    if size > max_size:
        raise FrameTooLarge(size)
    return json.loads(await reader.readexactly(size))
